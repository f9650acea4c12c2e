// The Node flags the agent runs with wherever it is installed (`./outpost agent`, the host launcher,
// the container image): measured in bench/agent-footprint.ts, they keep it within its memory target.

/**
 * `--lite-mode` trades V8's optimizing compilers and eager feedback for memory (it implies `--jitless`):
 * about 18 MiB less resident memory at rest than plain node for an agent that spends its life waiting on
 * the network. It also turns WebAssembly off, so it runs the built JavaScript, never the TypeScript source
 * (Node strips types with a WebAssembly build of swc).
 */
export const agentNodeFlags: readonly string[] = ['--lite-mode'];
