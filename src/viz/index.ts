// Pictures of the supervisor's XState machines, drawn from the machine definitions themselves:
// the model (model.ts), Mermaid (mermaid.ts), Graphviz DOT (dot.ts) and a self-contained SVG laid
// out by ELK (layout.ts, svg.ts).
export { childrenOf, isAncestor, machineGraph } from './model.js';
export type { GraphState, GraphTransition, MachineGraph, StateType, TransitionKind } from './model.js';
export { KIND_COLOUR, stateLabel, transitionLabel } from './labels.js';
export { mermaidText, toMermaid } from './mermaid.js';
export { toDot } from './dot.js';
export { toSvg, toSvgAll } from './svg.js';
