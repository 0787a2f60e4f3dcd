package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// streamingScenario is registered in scenarios.
var streamingScenario = scenario{name: "streaming", run: (*bench).streaming, criteria: streamingCriteria}

// streamModel is the model of the streaming simulation.
const streamModel = "claude-3-5-sonnet-20241022"

// streaming is the original's streaming-response simulation: a response
// arrives in N chunks and each chunk records the usage so far (chunk i:
// output_tokens = i+1), back to back. A call that blocks stalls the
// stream: its time is a stutter.
func (b *bench) streaming() (result, error) {
	n := b.cfg.chunks
	b.section(fmt.Sprintf("2. Streaming simulation: %d chunks, one Record per chunk (output_tokens = chunk+1)", n))
	recs := make([]tracker.Record, n)
	for i := range recs {
		out := int64(i + 1)
		recs[i] = tracker.Record{
			Model: streamModel, InputTokens: 150, OutputTokens: out,
			CostUSD: costOf(streamModel, 150, out), LatencyMS: float64(i + 1),
		}
	}
	res := &streamingResult{NumChunks: n}
	var errs []error
	for _, sd := range []struct {
		name string
		dst  *streamingSide
	}{{"sync", &res.Sync}, {"async", &res.Async}} {
		b.prog.logf("streaming: %s, %d chunks", sd.name, n)
		ss, err := b.streamingSide(sd.name, recs)
		*sd.dst = ss
		errs = append(errs, err)
	}
	res.Improvement = streamingImprovement{
		SpeedupTotal:        ratio(res.Sync.TotalMS, res.Async.TotalMS),
		SpeedupMeanPerChunk: ratio(res.Sync.MeanPerChunkMS, res.Async.MeanPerChunkMS),
		SpeedupMaxStutter:   ratio(res.Sync.MaxStutterMS, res.Async.MaxStutterMS),
		SpeedupChunk:        ratio(res.Sync.MeanChunkMS, res.Async.MeanChunkMS),
		StutterReduction:    ratio(res.Sync.MaxStutterMS, res.Async.MaxStutterMS),
		StuttersEliminated:  res.Sync.StuttersOver10ms - res.Async.StuttersOver10ms,
	}
	b.printStreaming(res)
	return res, errors.Join(errs...)
}

func (b *bench) streamingSide(name string, recs []tracker.Record) (streamingSide, error) {
	file := name + "_streaming.json"
	s, err := b.open(name, file)
	if err != nil {
		return streamingSide{}, err
	}
	h := harness.NewHistogram()
	b.keep("streaming_"+name, h)
	const ms10, ms1 = int64(10 * time.Millisecond), int64(time.Millisecond)
	ss := streamingSide{File: file}
	var callErr error
	var maxNs, sumNs int64
	ok := 0
	t0 := harness.Now()
	for i := range recs {
		c0 := harness.Now()
		err := s.rec.Record(recs[i])
		d := harness.Now() - c0
		h.Record(d)
		maxNs = max(maxNs, d)
		sumNs += d
		if d > ms10 {
			ss.StuttersOver10ms++
		}
		if d > ms1 {
			ss.StuttersOver1ms++
		}
		if err != nil {
			callErr = fmt.Errorf("chunk %d: %w", i, err)
			break
		}
		ok++
	}
	total := harness.Now() - t0
	exp := newExpected()
	for i := range ok {
		exp.addN(&recs[i], 1)
	}
	sum := h.Summary()
	ss.Chunks = sum.Count
	ss.TotalMS = harness.NsToMS(float64(total))
	ss.MeanPerChunkMS = ratio(ss.TotalMS, float64(sum.Count))
	ss.MaxStutterMS = harness.NsToMS(float64(maxNs))
	ss.MeanChunkMS = ratio(harness.NsToMS(float64(sumNs)), float64(sum.Count))
	ss.P50MS, ss.P99MS = sum.P50MS(), sum.P99MS()
	_, hc, closeErr := b.finish("streaming", s, exp)
	ss.PersistedCalls = hc.Persisted.Calls
	return ss, errors.Join(callErr, closeErr)
}

type streamingResult struct {
	NumChunks   int                  `json:"num_chunks"` // the original's: chunks per side
	Sync        streamingSide        `json:"sync"`
	Async       streamingSide        `json:"async"`
	Improvement streamingImprovement `json:"improvement"`
}

type streamingSide struct {
	Chunks           int64   `json:"chunks"`
	TotalMS          float64 `json:"total_ms"`
	MeanPerChunkMS   float64 `json:"mean_per_chunk_ms"` // total / chunks: the loop's own cost included
	MeanChunkMS      float64 `json:"mean_chunk_ms"`     // the original's: the mean of the chunks' own times
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
	// The original's names: sync/async of mean_chunk_ms, and of
	// max_stutter_ms (the same as speedup_max_stutter).
	SpeedupChunk     float64 `json:"speedup_chunk"`
	StutterReduction float64 `json:"stutter_reduction"`
}

func (b *bench) printStreaming(r *streamingResult) {
	s, a := r.Sync, r.Async
	t := newTable("", "sync", "async", "sync/async")
	t.add("chunks", count(s.Chunks), count(a.Chunks), "")
	t.add("total", fmtMSAsNs(s.TotalMS), fmtMSAsNs(a.TotalMS), fmtX(r.Improvement.SpeedupTotal))
	t.add("mean per chunk", fmtMSAsNs(s.MeanPerChunkMS), fmtMSAsNs(a.MeanPerChunkMS), fmtX(r.Improvement.SpeedupMeanPerChunk))
	t.add("p50 per chunk", fmtMSAsNs(s.P50MS), fmtMSAsNs(a.P50MS), fmtX(ratio(s.P50MS, a.P50MS)))
	t.add("p99 per chunk", fmtMSAsNs(s.P99MS), fmtMSAsNs(a.P99MS), fmtX(ratio(s.P99MS, a.P99MS)))
	t.add("max stutter", fmtMSAsNs(s.MaxStutterMS), fmtMSAsNs(a.MaxStutterMS), fmtX(r.Improvement.SpeedupMaxStutter))
	t.add("stutters > 10 ms", count(s.StuttersOver10ms), count(a.StuttersOver10ms), "")
	t.add("stutters > 1 ms", count(s.StuttersOver1ms), count(a.StuttersOver1ms), "")
	t.write(b.stdout)
	b.printTimer()
}

// streamingCriteria: the original's stutter elimination (no async chunk
// over 10 ms).
func streamingCriteria(r result) []criterion {
	st, _ := r.(*streamingResult)
	var stutters float64
	var detail []string
	if st != nil {
		stutters = float64(st.Async.StuttersOver10ms)
		detail = []string{
			fmt.Sprintf("Sync stutters >10ms:  %d", st.Sync.StuttersOver10ms),
			fmt.Sprintf("Async stutters >10ms: %d", st.Async.StuttersOver10ms),
		}
	}
	return []criterion{judge(criterion{Name: "streaming_stutters", Target: "Streaming stutter elimination (async stutters >10ms = 0)", Original: true,
		Measured: stutters, Unit: "stutters", Display: fmt.Sprintf("%g async stutters > 10 ms", stutters), detail: detail}, st != nil, stutters == 0)}
}

func (r *streamingResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n2. Streaming Performance:\n   Sync:  %s ms total\n   Async: %s ms total\n   Improvement: %s faster\n",
		fmtMS(r.Sync.TotalMS), fmtMS(r.Async.TotalMS), fmtX(r.Improvement.SpeedupTotal))
}
