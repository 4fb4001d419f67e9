export { isRefusedAddress } from './address-policy.js';
export { CommandFailedError } from './command-failed-error.js';
export { AddressRefusedError, HttpStatusError } from './http-errors.js';
export { createHttpJob, type HttpJobOptions, type HttpJobPayload, type HttpJobResult, type HttpMethod } from './http-job.js';
export type { AddressAllowance } from './http-request.js';
export { createShellJob, type ShellJobOptions, type ShellJobPayload, type ShellJobResult } from './shell-job.js';
