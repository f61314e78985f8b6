// `promptline/http`: serve a pipeline over HTTP with Web-standard Request/Response.
export { createHandler, type Handler, type HandlerOptions, type Authenticate } from './http/handler.js'
export { bearerAuth } from './http/auth.js'
export { toNodeListener } from './http/node.js'
export { HttpProblem, type Problem } from './http/problem.js'
export { DEFAULT_MAX_BODY_BYTES } from './http/body.js'
