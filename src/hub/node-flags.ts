// The Node flags the hub runs with wherever a launcher starts it (`./outpost hub`, a release's
// bin/outpost, the hub image): written beside the build as app/hub-node-flags (scripts/build-app.ts).

/**
 * `--max-semi-space-size=64` (MiB): a young generation large enough that a fan-out's garbage (two
 * requests per site: the woken answer and the agent's next poll) dies between scavenges instead of being
 * copied; at 3,000 sites the fan-out saw one scavenge instead of five or six (bench/RESULTS.md, s9-fanout).
 * It is a cap, not a reservation: the young generation grows to it under load (≈ 20–35 MiB more resident
 * memory measured at 3,000 sites).
 */
export const hubNodeFlags: readonly string[] = ['--max-semi-space-size=64'];
