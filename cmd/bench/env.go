package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/usagering/usagering/harness"
)

// environment is what the run ran on, printed first and saved in the JSON.
type environment struct {
	GoVersion       string        `json:"go_version"`
	GOOS            string        `json:"goos"`
	GOARCH          string        `json:"goarch"`
	GOMAXPROCS      int           `json:"gomaxprocs"`
	NumCPU          int           `json:"num_cpu"`
	CPU             string        `json:"cpu"`
	TimerOverheadNs timerOverhead `json:"timer_overhead_ns"`
	Fsync           bool          `json:"fsync"`
	Mode            string        `json:"mode"`
	Rate            float64       `json:"rate"` // calls/s in total; 0 = closed loop
	StartedAt       string        `json:"started_at"`
}

// timerOverhead is harness.CalibrateOverhead's view of an empty timed
// region: what the clock adds to every per-call figure.
type timerOverhead struct {
	Samples int64   `json:"samples"`
	P50     int64   `json:"p50"`
	Mean    float64 `json:"mean"`
	P99     int64   `json:"p99"`
	Max     int64   `json:"max"`
}

const calibrationSamples = 1_000_000

func detectEnvironment(c *config) environment {
	cal := harness.CalibrateOverhead(calibrationSamples)
	return environment{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		CPU:        cpuModel("/proc/cpuinfo"),
		TimerOverheadNs: timerOverhead{
			Samples: cal.Count, P50: cal.P50, Mean: cal.Mean, P99: cal.P99, Max: cal.Max,
		},
		Fsync:     !c.noSync,
		Mode:      c.mode(),
		Rate:      c.rate,
		StartedAt: time.Now().Format(time.RFC3339),
	}
}

// cpuModel returns the first "model name" of a cpuinfo file, or "unknown".
func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return "unknown"
}
