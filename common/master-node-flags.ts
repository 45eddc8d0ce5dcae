// Node options every launcher of `keelson master` passes (cluster up, the bench, Jepsen).
//
// A bigger young generation: a member's garbage is mostly per-request objects that die within
// a Raft round, and with V8's default (16 MiB semi-spaces on this kind of machine) a busy
// member scavenged several times a second, copying what was still in flight each time. At 32
// MiB, watch fan-out delivered 4-19% more events per second in interleaved runs (bench/README.md,
// entry 9). It only takes effect on the command line: V8 sizes the heap when it starts.
export const MASTER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
