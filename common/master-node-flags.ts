// Node options every launcher of `keelson master` passes (cluster up, the bench, Jepsen).
//
// A bigger young generation: a member's garbage is mostly per-request objects that die within
// a Raft round, and with V8's default (16 MiB semi-spaces on this kind of machine) a busy
// member scavenged several times a second, copying what was still in flight each time. At 32
// MiB, watch fan-out delivered 4-19% more events per second in interleaved runs (bench/README.md,
// entry 9). It only takes effect on the command line: V8 sizes the heap when it starts.
//
// An earlier optimizing tier-up: V8 optimizes a function once it has run about
// --interrupt-budget bytes of bytecode (default 67584). A member's hot path is many small
// functions, each run once or twice per Raft round, so at a few thousand rounds a second a
// fresh member spent its first 10-20 s in unoptimized code and compiling (perf: TurboFan and
// baseline-code builtins were most of a put-seq leader's samples 5 s after start). At 8192,
// 7,000 sequential puts on a fresh cluster averaged 13-22% lower latency in interleaved runs;
// at steady state it makes no difference, and 2048 was worse (code optimized on too little
// feedback). bench/README.md, entry 12.
export const MASTER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--interrupt-budget=8192'];
