/**
 * A TCP proxy on loopback between the workers and Redis, for network faults:
 *
 * - `dropReplies(p)`: after forwarding a client's command, with probability `p`
 *   the connection is cut when the reply comes back (the command ran; the client
 *   never learns it did);
 * - `blackhole(ms)`: nothing flows either way for `ms` (bytes are held, as TCP
 *   would keep retransmitting them, and delivered afterwards);
 * - `resets(p)`: every 50 ms, each connection is reset (RST) with probability `p`.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

interface Link {
  client: Socket
  server: Socket
  doomed: boolean
}

export class FaultyProxy {
  readonly port: number
  readonly #server: Server
  readonly #links = new Set<Link>()
  #dropProbability = 0
  #resetProbability = 0
  #held: Array<() => void> | undefined
  #resetTimer: NodeJS.Timeout | undefined
  /** How many connections each fault cut. */
  readonly cut = { dropped: 0, reset: 0 }

  private constructor(server: Server, port: number) {
    this.#server = server
    this.port = port
  }

  static async start(targetPort: number, host = '127.0.0.1'): Promise<FaultyProxy> {
    let proxy: FaultyProxy | undefined
    const server = createServer((client) => proxy?.accept(client, targetPort, host))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, resolve)
    })
    const address = server.address()
    proxy = new FaultyProxy(server, typeof address === 'object' && address !== null ? address.port : 0)
    return proxy
  }

  accept(client: Socket, targetPort: number, host: string): void {
    const server = createConnection({ host, port: targetPort })
    const link: Link = { client, server, doomed: false }
    this.#links.add(link)
    const close = () => {
      this.#links.delete(link)
      client.destroy()
      server.destroy()
    }
    client.on('error', close).on('close', close)
    server.on('error', close).on('close', close)
    client.on('data', (chunk: Buffer) => {
      this.#pass(() => {
        if (server.destroyed) return
        server.write(chunk)
        if (this.#dropProbability > 0 && Math.random() < this.#dropProbability) link.doomed = true
      })
    })
    server.on('data', (chunk: Buffer) => {
      this.#pass(() => {
        if (link.doomed) {
          // The command ran; its reply never reaches the client.
          this.cut.dropped++
          close()
          return
        }
        if (!client.destroyed) client.write(chunk)
      })
    })
  }

  dropReplies(probability: number): void {
    this.#dropProbability = probability
  }

  resets(probability: number): void {
    this.#resetProbability = probability
    clearInterval(this.#resetTimer)
    if (probability > 0) {
      this.#resetTimer = setInterval(() => {
        for (const link of this.#links) {
          if (Math.random() < this.#resetProbability) {
            this.cut.reset++
            link.client.resetAndDestroy()
            link.server.resetAndDestroy()
            this.#links.delete(link)
          }
        }
      }, 50)
    }
  }

  /** Holds every byte for `ms`, then delivers them in order. */
  async blackhole(ms: number): Promise<void> {
    this.#held = []
    await new Promise((resolve) => setTimeout(resolve, ms))
    const held = this.#held
    this.#held = undefined
    for (const deliver of held) deliver()
  }

  /** No more faults. */
  heal(): void {
    this.dropReplies(0)
    this.resets(0)
  }

  async stop(): Promise<void> {
    this.heal()
    for (const link of this.#links) {
      link.client.destroy()
      link.server.destroy()
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #pass(deliver: () => void): void {
    if (this.#held !== undefined) this.#held.push(deliver)
    else deliver()
  }
}
