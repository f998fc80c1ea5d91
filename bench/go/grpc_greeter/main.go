// Command grpc_greeter is the grpc-go baseline of bench/grpc.sh: grpc-go's own helloworld
// Greeter (the examples' greeter_server) answering helloworld.Greeter/SayHello with the
// fixed reply {"message": "Hello world"}, with server reflection registered so that
// grpcurl (and rmicro call) can call it without a local .proto.
//
// It is built from Debian's packages only (golang-google-grpc-dev and the protobuf
// packages it uses), in GOPATH mode, by bench/go/build_grpc.sh; the generated helloworld
// package is the one Debian ships in golang-google-grpc-dev's examples.
//
// Runtime defaults are kept (GOMAXPROCS = all cores). Usage:
//
//	grpc_greeter -addr 127.0.0.1:0    prints "listening on HOST:PORT" once it accepts
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"google.golang.org/grpc"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/reflection"
)

type server struct {
	pb.UnimplementedGreeterServer
}

// SayHello replies with a fixed message, like rmicro's stub handler in
// bench/grpc/helloworld.handlers.json: no per-call logging, no string building.
func (s *server) SayHello(ctx context.Context, in *pb.HelloRequest) (*pb.HelloReply, error) {
	return &pb.HelloReply{Message: "Hello world"}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on (port 0: any free port)")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("failed to listen: %v", err)
	}
	s := grpc.NewServer()
	pb.RegisterGreeterServer(s, &server{})
	reflection.Register(s)
	fmt.Fprintf(os.Stdout, "listening on %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("failed to serve: %v", err)
	}
}
