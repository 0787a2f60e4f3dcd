package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	json "github.com/goccy/go-json"
)

// writeOutputs writes benchmark_results.json, one .hgrm per histogram (in
// microseconds) and the latency plot into the output directory.
func (b *bench) writeOutputs() error {
	var errs []error
	for _, nh := range b.hists {
		errs = append(errs, writeFile(filepath.Join(b.cfg.out, nh.name+".hgrm"), func(w *bufio.Writer) error {
			return nh.h.WriteHgrm(w, 1000)
		}))
	}
	plotted, err := b.plot()
	if err != nil {
		errs = append(errs, fmt.Errorf("plot: %w", err))
	}
	data, err := json.MarshalIndent(&b.res, "", "  ")
	if err != nil {
		errs = append(errs, fmt.Errorf("benchmark_results.json: %w", err))
	} else {
		path := filepath.Join(b.cfg.out, "benchmark_results.json")
		errs = append(errs, writeFile(path, func(w *bufio.Writer) error {
			_, err := w.Write(append(data, '\n'))
			return err
		}))
		plots := ""
		if plotted {
			plots = ", latency.svg, latency.png"
		}
		fmt.Fprintf(b.stdout, "\nResults saved to %s (+ %d .hgrm files in µs%s)\n", path, len(b.hists), plots)
	}
	return errors.Join(errs...)
}

// writeFile creates path and writes it through fill.
func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
