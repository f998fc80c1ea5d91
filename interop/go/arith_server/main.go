// Command arith_server is the Go reference for rmicro's JSON-RPC interop suite: a plain
// net/rpc server speaking JSON-RPC 1.0 (net/rpc/jsonrpc) with Go's classic Arith
// service and a small Job service. The benchmark also uses it as the Go baseline.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"time"
)

// Args are the operands of Arith's methods.
type Args struct{ A, B int }

// Quotient is the reply of Arith.Divide.
type Quotient struct{ Quo, Rem int }

// Arith is the service from net/rpc's package documentation.
type Arith int

// Multiply sets *reply to A*B.
func (t *Arith) Multiply(args *Args, reply *int) error {
	*reply = args.A * args.B
	return nil
}

// Divide sets the quotient and remainder of A/B.
func (t *Arith) Divide(args *Args, quo *Quotient) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	quo.Quo = args.A / args.B
	quo.Rem = args.A % args.B
	return nil
}

// Task is the request of Job.CreateJob.
type Task struct {
	Id   string `json:"id"`
	Name string `json:"name"`
}

// Response is the reply of the Job methods.
type Response struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// SleepArgs is the request of Job.Sleep.
type SleepArgs struct {
	Ms int `json:"ms"`
}

// Job mirrors the Job service of rmicro's samples.
type Job int

// CreateJob creates a job unless its name is reserved.
func (j *Job) CreateJob(task *Task, reply *Response) error {
	if task.Name == "forbidden" {
		return errors.New("job name forbidden is reserved")
	}
	*reply = Response{Code: 200, Msg: "created " + task.Name}
	return nil
}

// Sleep answers after args.Ms milliseconds.
func (j *Job) Sleep(args *SleepArgs, reply *Response) error {
	time.Sleep(time.Duration(args.Ms) * time.Millisecond)
	*reply = Response{Code: 200, Msg: "slept"}
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Bool("bench", false, "benchmark baseline mode (behaves the same)")
	flag.Parse()

	if err := rpc.Register(new(Arith)); err != nil {
		log.Fatal(err)
	}
	if err := rpc.Register(new(Job)); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// os.Stdout is unbuffered, so the line is out as soon as Printf returns.
	fmt.Printf("listening on %s\n", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go jsonrpc.ServeConn(conn)
	}
}
