export type { ContractDriverSettings, ContractFixture, DriverContractOptions } from './contract-fixture.js';
export { tsxImport } from './crash-protocol.js';
export { CuttingProxy } from './cutting-proxy.js';
export { describeDriverContract } from './describe-driver-contract.js';
export {
  completedRecord,
  randomQueueName,
  reserveEventually,
  reserveOrFail,
  sleep,
  testEnvelope,
  testFailure,
  type WaitUntilOptions,
  waitUntil,
} from './helpers.js';
