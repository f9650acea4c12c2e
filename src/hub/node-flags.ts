// The Node flags the hub runs with wherever a launcher starts it (`./outpost hub`, a release's
// bin/outpost, the hub image): written beside the build as app/hub-node-flags (scripts/build-app.ts).

/**
 * `--max-semi-space-size=64` (MiB): a young generation large enough that a fan-out's garbage (two
 * requests per site: the woken answer and the agent's next poll) dies between scavenges instead of being
 * copied; at 3,000 sites the fan-out saw one scavenge instead of five or six (bench/RESULTS.md, s9-fanout).
 * It costs up to 2 × 64 MiB of address space for the two semi-spaces, ≈ 40–60 MiB more resident memory
 * under load, nothing at rest beyond what the young generation has grown to.
 */
export const hubNodeFlags: readonly string[] = ['--max-semi-space-size=64'];
