// Every machine of the supervisor, by name: what `tsyd viz` draws and the tests walk.
import type { AnyStateMachine } from 'xstate';

export const MACHINES: Record<string, AnyStateMachine> = {};
