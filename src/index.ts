// tsyd's public API: re-exports only.
export { spawn, run, SandboxedProcess } from './spawn.js';
export { Supervisor } from './supervisor/supervisor.js';
export type { SupervisorOptions } from './supervisor/supervisor.js';
export type { SpawnOptions, SandboxResult, StdioOption, Violation } from './spawn.js';
export type { InspectSnapshot, InspectEvent, MachineView, EmulatorView, PoolView, ProgramView } from './inspect/stream.js';
export { Policy } from './sandbox/policy.js';
export type { PolicyData } from './sandbox/policy.js';
export { buildPolicy, profileContext } from './sandbox/build.js';
export { policyFileNames } from './sandbox/policy-files.js';
export { PROFILES, DEFAULT_PROFILE } from './sandbox/profiles.js';
export type { ProfileName, ProfileContext } from './sandbox/profiles.js';
export { learnPolicy } from './sandbox/learn.js';
export type { LearnedAccess, LearnOptions, LearnedPolicy } from './sandbox/learn.js';
export type { PolicyInput } from './sandbox/build.js';
export { parseRule, loadPolicyFile, CAPABILITIES } from './sandbox/rules.js';
export type { Capability, Statement, RuleSource } from './sandbox/rules.js';
export { TsydError, SystemCallError, PolicyError, UsageError } from './errors.js';
export type { LogLevel } from './log.js';
