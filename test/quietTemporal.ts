import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log every state change at INFO; only warnings and errors help when a test fails.
Runtime.install({ logger: new DefaultLogger('WARN') });
