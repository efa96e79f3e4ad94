package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The lines bench prints at the edges of the measured window (benchmarks/src/load.rs has
// the same).
const (
	windowStart = "# window start"
	windowEnd   = "# window end"
)

// bench calls echo from concurrency callers for warmup then duration, with a payload of
// size bytes, and prints {"calls", "errors", "qps", "p50_us", "p99_us", "p999_us"}. Before
// that line it prints "# window start" and "# window end" at the measured window's edges, the
// markers rookery's benchmark runner (benchmarks/, bench-echo) samples CPU time at.
func bench(c *caller, concurrency, size int, warmup, duration time.Duration) {
	payload := randomPayload(size)
	var measuring, stopping atomic.Bool
	var errs atomic.Int64
	latencies := make([][]time.Duration, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			for !stopping.Load() {
				start := time.Now()
				r, err := c.echo(context.Background(), echoArgs{message: "bench", payload: payload})
				took := time.Since(start)
				if err != nil || len(r.payload) != size {
					if measuring.Load() {
						errs.Add(1)
					}
					continue
				}
				if measuring.Load() {
					mine = append(mine, took)
				}
			}
			latencies[i] = mine
		}(i)
	}
	time.Sleep(warmup)
	measuring.Store(true)
	began := time.Now()
	fmt.Println(windowStart)
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(began)
	fmt.Println(windowEnd)
	stopping.Store(true)
	wg.Wait()

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds())
	}
	out := map[string]any{
		"calls":   len(all),
		"errors":  errs.Load(),
		"qps":     float64(len(all)) / elapsed.Seconds(),
		"p50_us":  pct(0.50),
		"p99_us":  pct(0.99),
		"p999_us": pct(0.999),
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
