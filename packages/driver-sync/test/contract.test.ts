import { describeDriverContract } from '@queuekit/driver-contract';
import { createSyncDriver } from '../src/index.js';

// The sync driver declares `inline` and no lease: the suite runs what applies and skips the rest visibly.
describeDriverContract({ name: 'sync', createDriver: () => createSyncDriver({ jobs: [] }) });
