export { BeanstalkDeadLetterStore } from './beanstalk-dead-letter-store.js';
export { BeanstalkDriver, createBeanstalkDriver } from './beanstalk-driver.js';
export {
  type BeanstalkDriverOptions,
  DEFAULT_BEANSTALK_URL,
  DEFAULT_MAX_JOB_BYTES,
  DEFAULT_TTR_SECONDS,
  parseBeanstalkUrl,
} from './beanstalk-options.js';
export { BeanstalkClient, type BeanstalkJob, type ReserveOutcome } from './client/beanstalk-client.js';
export type { BeanstalkConnectionOptions } from './client/beanstalk-connection.js';
export type { JobStats } from './client/reply-parser.js';
