export { DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_LIMITS, DEFAULT_SIGNAL_GRACE_MS, type Limits } from './limits';
export { consoleLogger, type Logger, silentLogger } from './log';
export { DEFAULT_RUN, parseRunConfigs, readRunConfigFile } from './run-configs';
export type { RunRegistry } from './run-registry';
export { createSignalingServer, type SignalingServer, type SignalingServerOptions } from './server';
