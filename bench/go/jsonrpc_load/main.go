// Command jsonrpc_load drives a net/rpc JSON-RPC server (rmicro serve, or Go's own
// arith_server as the baseline) with the same pipelined load: -c connections, each with
// -p calls in flight via client.Go, for -d after a -warmup. It prints one line:
//
//	calls/s N calls N errors N p50_us N p99_us N
//
// calls counts every reply in the measured window; errors those carrying an error, plus
// calls left unanswered -grace after the end (reported on stderr).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"sort"
	"sync"
	"time"
)

type result struct {
	latencies  []time.Duration // of the calls completed in the measured window
	errors     int
	firstErr   error
	unanswered int // calls still in flight -grace after the end
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address")
	conns := flag.Int("c", 16, "connections")
	inflight := flag.Int("p", 8, "calls in flight per connection")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warmup := flag.Duration("warmup", time.Second, "unmeasured warm-up before -d")
	method := flag.String("method", "Arith.Multiply", "Service.Method to call")
	params := flag.String("params", `{"A":7,"B":8}`, "raw JSON sent as params[0]")
	grace := flag.Duration("grace", 5*time.Second, "wait this long past the end for replies")
	flag.Parse()
	if !json.Valid([]byte(*params)) || *conns < 1 || *inflight < 1 {
		fmt.Fprintln(os.Stderr, "jsonrpc_load: -params must be JSON, -c and -p at least 1")
		os.Exit(2)
	}
	args := json.RawMessage(*params)

	clients := make([]*rpc.Client, *conns)
	for i := range clients {
		c, err := jsonrpc.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jsonrpc_load:", err)
			os.Exit(1)
		}
		clients[i] = c
	}

	start := time.Now()
	measureFrom, stopAt := start.Add(*warmup), start.Add(*warmup+*dur)
	results := make([]result, *conns)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func(c *rpc.Client, res *result) {
			defer wg.Done()
			done := make(chan *rpc.Call, *inflight)
			sent := make(map[*rpc.Call]time.Time, *inflight)
			send := func() {
				sent[c.Go(*method, args, new(json.RawMessage), done)] = time.Now()
			}
			for j := 0; j < *inflight; j++ {
				send()
			}
			giveUp := time.After(time.Until(stopAt) + *grace)
			for len(sent) > 0 {
				var cl *rpc.Call
				select {
				case cl = <-done:
				case <-giveUp:
					res.unanswered = len(sent)
					return
				}
				now := time.Now()
				if now.After(measureFrom) && !now.After(stopAt) {
					res.latencies = append(res.latencies, now.Sub(sent[cl]))
					if cl.Error != nil {
						if res.errors == 0 {
							res.firstErr = cl.Error
						}
						res.errors++
					}
				}
				delete(sent, cl)
				if cl.Error == rpc.ErrShutdown {
					return // the connection is gone; its other calls end the same way
				}
				if now.Before(stopAt) {
					send()
				}
			}
		}(c, &results[i])
	}
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}

	var all []time.Duration
	errs := 0
	for i, r := range results {
		all = append(all, r.latencies...)
		errs += r.errors + r.unanswered
		if r.firstErr != nil {
			fmt.Fprintf(os.Stderr, "jsonrpc_load: connection %d: %d errors, first: %v\n", i, r.errors, r.firstErr)
		}
		if r.unanswered > 0 {
			fmt.Fprintf(os.Stderr, "jsonrpc_load: connection %d: %d calls unanswered\n", i, r.unanswered)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))].Microseconds()
	}
	fmt.Printf("calls/s %.0f calls %d errors %d p50_us %d p99_us %d\n",
		float64(len(all))/dur.Seconds(), len(all), errs, pct(0.50), pct(0.99))
}
