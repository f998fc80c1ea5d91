// Command jsonrpc_client checks that `rmicro serve`, started with the schema and
// handlers in interop/jsonrpc/, answers Go's own net/rpc/jsonrpc client as a Go server
// would, then checks the wire bytes over a raw socket. With -against go it runs only
// the raw checks, against arith_server, to show they are what Go's own server does.
// It prints "ok NAME" per check and exits 1 at the first failure.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"strings"
	"syscall"
	"time"
)

// Args, Product and Quotient are the messages of interop/jsonrpc/arith.proto.
type Args struct{ A, B int64 }

type Product struct{ Value int64 }

type Quotient struct{ Quo, Rem int64 }

var timeout = flag.Duration("timeout", 10*time.Second, "time limit for each reply")

func fail(name, format string, a ...any) {
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, a...))
	os.Exit(1)
}

func ok(name string) { fmt.Println("ok", name) }

// call is client.Call with a time limit.
func call(c *rpc.Client, method string, args, reply any) error {
	select {
	case cl := <-c.Go(method, args, reply, nil).Done:
		return cl.Error
	case <-time.After(*timeout):
		return fmt.Errorf("no reply within %v", *timeout)
	}
}

// wantError checks that method fails with exactly the server error text want.
func wantError(c *rpc.Client, name, method string, args any, want string) {
	var reply Product
	err := call(c, method, args, &reply)
	var se rpc.ServerError
	if !errors.As(err, &se) || err.Error() != want {
		fail(name, "got error %#v, want rpc.ServerError %q", err, want)
	}
	ok(name)
}

func checkClient(addr string) {
	c, err := jsonrpc.Dial("tcp", addr)
	if err != nil {
		fail("dial", "%v", err)
	}
	defer c.Close()

	var p Product
	if err := call(c, "Arith.Multiply", Args{7, 8}, &p); err != nil || p.Value != 56 {
		fail("Arith.Multiply", "got %+v, %v; want {Value:56}, nil", p, err)
	}
	ok("Arith.Multiply")

	var q Quotient
	if err := call(c, "Arith.Divide", Args{17, 5}, &q); err != nil || q != (Quotient{3, 2}) {
		fail("Arith.Divide", "got %+v, %v; want {Quo:3 Rem:2}, nil", q, err)
	}
	ok("Arith.Divide")
	wantError(c, "Arith.Divide by zero", "Arith.Divide", Args{7, 0}, "divide by zero")

	p = Product{}
	if err := call(c, "Arith.Fixed", Args{7, 8}, &p); err != nil || p.Value != 56 {
		fail("Arith.Fixed", "got %+v, %v; want {Value:56}, nil", p, err)
	}
	ok("Arith.Fixed")
	wantError(c, "Arith.Fixed error", "Arith.Fixed", Args{1, 2}, "only 7 × 8 is known")

	// google.protobuf wrappers travel as bare values: a string in, a string out; an
	// int64 as a JSON number both ways (Go cannot read "81" into an int64).
	var greeting string
	if err := call(c, "Arith.Greet", "gopher", &greeting); err != nil || greeting != "hello, gopher" {
		fail("Arith.Greet", "got %q, %v; want \"hello, gopher\", nil", greeting, err)
	}
	ok("Arith.Greet")
	var square int64
	if err := call(c, "Arith.Square", int64(3000000000), &square); err != nil || square != 9000000000000000000 {
		fail("Arith.Square", "got %d, %v; want 9000000000000000000, nil", square, err)
	}
	ok("Arith.Square")

	wantError(c, "unknown method", "Arith.Nope", Args{}, "rpc: can't find method Arith.Nope")
	wantError(c, "unknown service", "Nope.X", Args{}, "rpc: can't find service Nope.X")
	wantError(c, "ill-formed method", "NoDot", Args{}, "rpc: service/method request ill-formed: NoDot")

	// Out-of-order replies on one connection: Slow (a stub that waits 3 s for a = -1) goes
	// out first, then 20 Multiply calls (exec handlers: a process each, started as their
	// requests are read, which on a loaded small machine can take longer than a second),
	// then 5 Fixed calls (stubs, no delay). One shared Done channel receives the calls in
	// the order the replies came in. The Fixed replies must come before Slow's, though
	// sent after it and after the Multiply calls.
	const nMul, nFixed = 20, 5
	done := make(chan *rpc.Call, 1+nMul+nFixed)
	slow := c.Go("Arith.Slow", Args{-1, 1}, &Product{}, done)
	muls := make([]Product, nMul)
	for i := range muls {
		c.Go("Arith.Multiply", Args{int64(i), int64(i + 1)}, &muls[i], done)
	}
	fixed := make([]Product, nFixed)
	for i := range fixed {
		c.Go("Arith.Fixed", Args{7, 8}, &fixed[i], done)
	}
	order := make([]string, 0, cap(done))
	fixedBeforeSlow, slowAt := 0, 0
	deadline := time.After(2 * *timeout)
	for len(order) < cap(done) {
		select {
		case cl := <-done:
			if cl.Error != nil {
				fail("concurrency", "%s%+v: got error %v", cl.ServiceMethod, cl.Args, cl.Error)
			}
			order = append(order, strings.TrimPrefix(cl.ServiceMethod, "Arith."))
			switch {
			case cl == slow:
				slowAt = len(order)
			case cl.ServiceMethod == "Arith.Fixed" && slowAt == 0:
				fixedBeforeSlow++
			}
		case <-deadline:
			fail("concurrency", "got %d of %d replies within %v", len(order), cap(done), 2**timeout)
		}
	}
	for i, r := range muls {
		if want := int64(i * (i + 1)); r.Value != want {
			fail("concurrency", "Multiply{%d,%d}: got %d, want %d", i, i+1, r.Value, want)
		}
	}
	for _, r := range fixed {
		if r.Value != 56 {
			fail("concurrency", "Fixed{7,8}: got %d, want 56", r.Value)
		}
	}
	if fixedBeforeSlow != nFixed {
		fail("concurrency", "reply order %v; want all %d Fixed replies before Slow", order, nFixed)
	}
	fmt.Printf("ok concurrency (Slow reply %d of %d)\n", slowAt, len(order))

	p = Product{}
	if err := call(c, "Arith.Multiply", Args{6, 9}, &p); err != nil || p.Value != 54 {
		fail("connection still usable", "got %+v, %v; want {Value:54}, nil", p, err)
	}
	ok("connection still usable")
}

// checkRaw writes requests by hand and compares the reply lines byte for byte. method
// is a method answering {"A":7,"B":8} with result.
func checkRaw(addr, method, result string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fail("raw dial", "%v", err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	roundTrip := func(name, req string) string {
		if _, err := io.WriteString(conn, req+"\n"); err != nil {
			fail(name, "write: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(*timeout))
		line, err := r.ReadString('\n')
		if err != nil {
			fail(name, "got %q, %v; want a reply line", line, err)
		}
		return strings.TrimSuffix(line, "\n")
	}
	exact := func(name, req, want string) {
		if got := roundTrip(name, req); got != want {
			fail(name, "got %s want %s", got, want)
		}
		ok(name)
	}
	params := `"params":[{"A":7,"B":8}]`
	m := `{"method":"` + method + `",`

	exact("raw string id", m+params+`,"id":"abc"}`, `{"id":"abc","result":`+result+`,"error":null}`)
	exact("raw number id", m+params+`,"id":7}`, `{"id":7,"result":`+result+`,"error":null}`)
	exact("raw object id", m+params+`,"id":{"n":[1,2.5]}}`, `{"id":{"n":[1,2.5]},"result":`+result+`,"error":null}`)
	exact("raw no id", m+params+`}`, `{"id":null,"result":`+result+`,"error":null}`)

	name := "raw params not an array"
	line := roundTrip(name, m+`"params":{"A":1},"id":1}`)
	var resp struct {
		Id     json.RawMessage
		Result json.RawMessage
		Error  string
	}
	wantPrefix := "json: cannot unmarshal object into Go value of type [1]interface {}"
	if json.Unmarshal([]byte(line), &resp) != nil || string(resp.Id) != "1" ||
		string(resp.Result) != "null" || !strings.HasPrefix(resp.Error, wantPrefix) {
		fail(name, "got %s want {\"id\":1,\"result\":null,\"error\":\"%s...\"}", line, wantPrefix)
	}
	ok(name)

	exact("raw missing params", m+`"id":2}`, `{"id":2,"result":null,"error":"jsonrpc: request body missing params"}`)
	exact("raw connection still open", m+params+`,"id":3}`, `{"id":3,"result":`+result+`,"error":null}`)

	// A header that cannot be decoded ends the connection, without a reply.
	name = "raw malformed JSON closes"
	if _, err := io.WriteString(conn, `{"method":}}}}`+"\n"); err != nil {
		fail(name, "write: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(*timeout))
	rest, err := io.ReadAll(r)
	if len(rest) > 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		fail(name, "got %q, %v; want the connection closed without a reply", rest, err)
	}
	ok(name)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address of the server")
	against := flag.String("against", "rmicro", `server under test: "rmicro" (all checks) or "go" (arith_server, raw checks only)`)
	flag.Parse()
	switch *against {
	case "rmicro":
		checkClient(*addr)
		checkRaw(*addr, "Arith.Fixed", `{"value":56}`)
	case "go":
		checkRaw(*addr, "Arith.Multiply", `56`)
	default:
		fail("flags", "got -against %q, want rmicro or go", *against)
	}
	fmt.Println("all checks passed")
}
