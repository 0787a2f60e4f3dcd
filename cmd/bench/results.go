package main

import (
	"github.com/usagering/usagering/harness"
)

// results is benchmark_results.json: the original's four top-level keys
// (latency, streaming, throughput, concurrent, each with sync, async and
// improvement, and the original's field names), plus ours. A scenario not
// run is absent (null).
type results struct {
	Latency     *latencyResult    `json:"latency"`
	Streaming   *streamingResult  `json:"streaming"`
	Throughput  *throughputResult `json:"throughput"`
	Concurrent  *concurrentResult `json:"concurrent"`
	Queues      *queuesResult     `json:"queues"`
	IO          *ioResult         `json:"io"`
	Stall       *stallResult      `json:"stall"`
	Soak        *soakResult       `json:"soak"`
	Honesty     []honestyCheck    `json:"honesty"`
	Criteria    []criterion       `json:"criteria"`
	Environment environment       `json:"environment"`
}

// latencyStats are a histogram's figures in milliseconds, with the
// original's names (mean_ms, median_ms, min_ms, max_ms, p95_ms, p99_ms,
// stdev_ms) and ours (count, p90_ms, p999_ms, p9999_ms).
type latencyStats struct {
	Count    int64   `json:"count"`
	MeanMS   float64 `json:"mean_ms"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	P90MS    float64 `json:"p90_ms"`
	P95MS    float64 `json:"p95_ms"`
	P99MS    float64 `json:"p99_ms"`
	P999MS   float64 `json:"p999_ms"`
	P9999MS  float64 `json:"p9999_ms"`
	StdevMS  float64 `json:"stdev_ms"`
}

func statsOf(s harness.Summary) latencyStats {
	return latencyStats{
		Count: s.Count, MeanMS: s.MeanMS(), MedianMS: s.P50MS(), MinMS: s.MinMS(), MaxMS: s.MaxMS(),
		P90MS: s.P90MS(), P95MS: s.P95MS(), P99MS: s.P99MS(), P999MS: s.P999MS(), P9999MS: s.P9999MS(),
		StdevMS: s.StdDevMS(),
	}
}

type latencyResult struct {
	Sync        latencySide        `json:"sync"`
	Async       latencySide        `json:"async"`
	Improvement latencyImprovement `json:"improvement"`
	// PacedFloor (with -rate only) is the same pacer around an empty call:
	// what pacing and the machine add to every paced figure.
	PacedFloor *latencyStats `json:"paced_floor,omitempty"`
}

type latencySide struct {
	latencyStats
	TotalCalls     int64   `json:"total_calls"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"` // "closed-loop" or "open-loop N/s"
	LoopMeanNs     float64 `json:"loop_mean_ns,omitempty"`
	LoopMeanCalls  int64   `json:"loop_mean_calls,omitempty"`
	// LoopMeanUnsaturatedNs is the median loop mean of rounds of half the
	// ring's capacity, each after a Flush: the call when the ring has room.
	LoopMeanUnsaturatedNs    float64 `json:"loop_mean_unsaturated_ns,omitempty"`
	LoopMeanUnsaturatedMinNs float64 `json:"loop_mean_unsaturated_min_ns,omitempty"`
	Flushes                  int64   `json:"flushes"` // file writes: sync one per call; async Stats().TotalFlushes
	File                     string  `json:"file"`
}

type latencyImprovement struct {
	SpeedupMean   float64 `json:"speedup_mean"`
	SpeedupMedian float64 `json:"speedup_median"`
	SpeedupP95    float64 `json:"speedup_p95"`
	SpeedupP99    float64 `json:"speedup_p99"`
	SpeedupP999   float64 `json:"speedup_p999"`
	SpeedupMax    float64 `json:"speedup_max"`
}

type streamingResult struct {
	Sync        streamingSide        `json:"sync"`
	Async       streamingSide        `json:"async"`
	Improvement streamingImprovement `json:"improvement"`
}

type streamingSide struct {
	Chunks           int64   `json:"chunks"`
	TotalMS          float64 `json:"total_ms"`
	MeanPerChunkMS   float64 `json:"mean_per_chunk_ms"`
	MaxStutterMS     float64 `json:"max_stutter_ms"`
	StuttersOver10ms int64   `json:"stutters_over_10ms"`
	StuttersOver1ms  int64   `json:"stutters_over_1ms"`
	P50MS            float64 `json:"p50_ms"`
	P99MS            float64 `json:"p99_ms"`
	PersistedCalls   int64   `json:"persisted_calls"`
	File             string  `json:"file"`
}

type streamingImprovement struct {
	SpeedupTotal        float64 `json:"speedup_total"`
	SpeedupMeanPerChunk float64 `json:"speedup_mean_per_chunk"`
	SpeedupMaxStutter   float64 `json:"speedup_max_stutter"`
	StuttersEliminated  int64   `json:"stutters_eliminated"` // sync stutters > 10 ms minus async's
}

type throughputResult struct {
	Sync        throughputSide        `json:"sync"`
	Async       throughputSide        `json:"async"`
	Improvement throughputImprovement `json:"improvement"`
	// Definition says how calls_per_second is counted.
	Definition string `json:"definition"`
}

type throughputSide struct {
	DurationS      float64 `json:"duration_s"`  // the timed window
	TotalCalls     int64   `json:"total_calls"` // calls accepted in the window
	PersistedCalls int64   `json:"persisted_calls"`
	CallsPerSecond float64 `json:"calls_per_second"` // persisted / (window + close)
	// EnqueueCallsPerSecond is accepted / window: for the sync side the same
	// as calls_per_second (every call writes the file before returning).
	EnqueueCallsPerSecond float64 `json:"enqueue_calls_per_second"`
	CloseMS               float64 `json:"close_ms"`
	Flushes               int64   `json:"flushes"`
	File                  string  `json:"file"`
}

type throughputImprovement struct {
	ThroughputIncrease        float64 `json:"throughput_increase"`         // persisted rates
	EnqueueThroughputIncrease float64 `json:"enqueue_throughput_increase"` // accepted rates
}

type concurrentResult struct {
	Sync        concurrentSide        `json:"sync"`
	Async       concurrentSide        `json:"async"`
	Improvement concurrentImprovement `json:"improvement"`
	Sweep       []sweepPoint          `json:"sweep"`
}

type concurrentSide struct {
	NumThreads     int     `json:"num_threads"`
	CallsPerThread int     `json:"calls_per_thread"`
	TotalCalls     int64   `json:"total_calls"`
	TotalMS        float64 `json:"total_ms"` // start to the last goroutine's last call returning (Close excluded)
	MeanMS         float64 `json:"mean_ms"`
	MedianMS       float64 `json:"median_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	P999MS         float64 `json:"p999_ms"`
	MaxMS          float64 `json:"max_ms"`
	CloseMS        float64 `json:"close_ms"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"`
	File           string  `json:"file"`
}

type concurrentImprovement struct {
	SpeedupTotal float64 `json:"speedup_total"`
	SpeedupMean  float64 `json:"speedup_mean"`
	SpeedupP99   float64 `json:"speedup_p99"`
	SpeedupMax   float64 `json:"speedup_max"`
}

type sweepPoint struct {
	Goroutines  int                   `json:"goroutines"`
	Sync        concurrentSide        `json:"sync"`
	Async       concurrentSide        `json:"async"`
	Improvement concurrentImprovement `json:"improvement"`
}

type queuesResult struct {
	Capacity    int        `json:"capacity"`
	Batch       int        `json:"batch"`
	ItemsPerRun int        `json:"items_per_run"`
	ItemBytes   uintptr    `json:"item_bytes"`
	Consumer    string     `json:"consumer"`
	Runs        []queueRun `json:"runs"`
}

type queueRun struct {
	Kind           string  `json:"kind"`
	Producers      int     `json:"producers"`
	Items          int64   `json:"items"`
	Seconds        float64 `json:"seconds"`
	ItemsPerSecond float64 `json:"items_per_second"`
	NsPerItem      float64 `json:"ns_per_item"`
	MeanNs         float64 `json:"mean_ns"`
	P50Ns          int64   `json:"p50_ns"`
	P99Ns          int64   `json:"p99_ns"`
	P999Ns         int64   `json:"p999_ns"`
	P9999Ns        int64   `json:"p9999_ns"`
	MaxNs          int64   `json:"max_ns"`
	FoldOK         bool    `json:"fold_ok"` // the consumer's per-model token sums equal what was pushed
}

type ioResult struct {
	OriginalClaim ioClaim      `json:"original_claim"`
	Sync          ioSync       `json:"sync"`
	Async         []ioAsyncRun `json:"async"`
}

type ioClaim struct {
	Sync  string `json:"sync"`
	Async string `json:"async"`
}

type ioSync struct {
	Records    int64   `json:"records"`
	Writes     int64   `json:"writes"`
	PerHundred float64 `json:"writes_per_100_records"`
	Method     string  `json:"method"`
	NilReturns int64   `json:"nil_returns"`
	File       string  `json:"file"`
}

type ioAsyncRun struct {
	Run          string  `json:"run"`
	Records      int64   `json:"records"`
	Flushes      int64   `json:"flushes"` // Stats().TotalFlushes after Close
	PerHundred   float64 `json:"writes_per_100_records"`
	InodeChanges int64   `json:"inode_changes,omitempty"` // seen by polling, where polled
	Method       string  `json:"method"`
}

type criterion struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Display  string  `json:"display"` // the measured value, for people
	Result   string  `json:"result"`  // PASS, FAIL or SKIP (scenario not run)
	Original bool    `json:"original"`
}

type stallResult struct {
	StallMS    float64   `json:"stall_ms"` // the injected stall
	Producers  int       `json:"producers"`
	Capacity   int       `json:"capacity"` // the async ring's
	Mode       string    `json:"mode"`
	Corrected  bool      `json:"corrected"` // closed loop: coordinated-omission correction applied
	Definition string    `json:"definition"`
	Sync       stallSide `json:"sync"`
	Async      stallSide `json:"async"`
	// SpeedupP999 is sync/async of the p99.9 during the stall.
	SpeedupP999 float64 `json:"speedup_p999"`
}

type stallSide struct {
	WindowMS    float64      `json:"window_ms"`     // the stalled fsync, from its start to its return, as it reported them
	StartMS     float64      `json:"start_ms"`      // when it started, from the producers' start
	RunMS       float64      `json:"run_ms"`        // producers' start to their stop
	During      latencyStats `json:"during"`        // calls starting in the window (corrected in a closed loop)
	DuringTimed latencyStats `json:"during_timed"`  // the timed calls among them
	Omitted     int64        `json:"omitted_calls"` // calls kept from starting in the window (the correction)
	Run         latencyStats `json:"run"`           // every timed call of the run
	// Control (async only) is the same measure over a window as long as
	// the stall just before it was armed, of the calls that ended before
	// the stall began: the producers without a stall.
	Control *stallControl `json:"control,omitempty"`
	// PreStallCallsPerSecond is the producers' rate before the stall, from
	// their mean intervals (closed loop only).
	PreStallCallsPerSecond float64 `json:"pre_stall_calls_per_second"`
	MaxQueued              int     `json:"max_queued"`     // async: most records seen in the ring during the stall
	MaxFolded              int     `json:"max_folded"`     // async: most folded records seen awaiting a persist during the stall
	FlushAfterMS           float64 `json:"flush_after_ms"` // async: Flush once the producers stopped
	TotalCalls             int64   `json:"total_calls"`
	PersistedCalls         int64   `json:"persisted_calls"`
	File                   string  `json:"file"`
}

type soakResult struct {
	DurationS float64 `json:"duration_s"` // asked for
	ElapsedS  float64 `json:"elapsed_s"`  // start to the last producer's stop
	Rate      float64 `json:"rate"`       // calls/s in total, paced
	Producers int     `json:"producers"`
	IntervalS float64 `json:"interval_s"` // between lines
	// WindowS is the length of the first and the last part compared:
	// a quarter of the run, at most a minute.
	WindowS        float64       `json:"window_s"`
	Lines          []soakLine    `json:"lines"`
	First          soakWindow    `json:"first"`
	Last           soakWindow    `json:"last"`
	Tolerance      soakTolerance `json:"tolerance"`
	HeapFlat       bool          `json:"heap_flat"`
	GoroutinesFlat bool          `json:"goroutines_flat"`
	P99Flat        bool          `json:"p99_flat"`
	ZeroLoss       bool          `json:"zero_loss"` // the honesty check of the soak's file
	Run            latencyStats  `json:"run"`
	TotalCalls     int64         `json:"total_calls"`
	PersistedCalls int64         `json:"persisted_calls"`
	File           string        `json:"file"`
}

// soakLine is one live line: the calls completed since the previous line.
type soakLine struct {
	ElapsedS       float64 `json:"elapsed_s"`
	Calls          int64   `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	P99Ns          int64   `json:"p99_ns"`
	HeapBytes      uint64  `json:"heap_bytes"` // heap in use when the line was printed
	Goroutines     int     `json:"goroutines"`
	Pending        int     `json:"pending"` // Stats().Pending: accepted, not yet persisted
}

// soakWindow is the first or the last part of the soak: heap and
// goroutines as sampled in it, latency of the calls intended in it.
type soakWindow struct {
	FromS      float64 `json:"from_s"`
	ToS        float64 `json:"to_s"`
	Samples    int     `json:"samples"`
	HeapBytes  uint64  `json:"heap_bytes"` // the highest sampled
	Goroutines int     `json:"goroutines"` // the fewest sampled
	Calls      int64   `json:"calls"`
	P99Ns      int64   `json:"p99_ns"`
	P999Ns     int64   `json:"p999_ns"`
}

// soakTolerance is what counts as flat: heap last <= first × HeapFactor +
// HeapSlackBytes; p99 last <= first × P99Factor + P99SlackNs.
type soakTolerance struct {
	HeapFactor     float64 `json:"heap_factor"`
	HeapSlackBytes int64   `json:"heap_slack_bytes"`
	Goroutines     string  `json:"goroutines"`
	P99Factor      float64 `json:"p99_factor"`
	P99SlackNs     int64   `json:"p99_slack_ns"`
}

// stallControl is the stall scenario's control window.
type stallControl struct {
	WindowMS float64      `json:"window_ms"`
	StartMS  float64      `json:"start_ms"` // from the producers' start
	Calls    latencyStats `json:"calls"`    // as stallSide.During
	Timed    latencyStats `json:"timed"`    // as stallSide.DuringTimed
	Omitted  int64        `json:"omitted_calls"`
}
