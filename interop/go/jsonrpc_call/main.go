// Command jsonrpc_call makes one call with Go's own net/rpc/jsonrpc client and prints
// its result as JSON, or the server's error text after "error: " (exit 1); a transport
// failure exits 2. The params are any JSON value, sent as Go sends a struct: params[0].
//
//	jsonrpc_call ADDR Service.Method '{"A":7,"B":8}'
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: jsonrpc_call ADDR Service.Method JSON")
		os.Exit(2)
	}
	client, err := jsonrpc.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(2)
	}
	defer client.Close()
	var result json.RawMessage
	call := client.Go(os.Args[2], json.RawMessage(os.Args[3]), &result, nil)
	select {
	case <-call.Done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "no reply within 10s")
		os.Exit(2)
	}
	var serverError rpc.ServerError
	switch {
	case errors.As(call.Error, &serverError):
		fmt.Println("error: " + string(serverError))
		os.Exit(1)
	case call.Error != nil:
		fmt.Fprintln(os.Stderr, "call:", call.Error)
		os.Exit(2)
	}
	fmt.Println(string(result))
}
