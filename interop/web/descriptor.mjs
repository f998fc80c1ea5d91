// The web.v1.Web service from a binary FileDescriptorSet (protoc --include_imports -o),
// without generated code: protobuf-es builds its descriptors at run time.
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

export function webService(bytes) {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  const service = registry.getService("web.v1.Web");
  if (!service) throw new Error("web.v1.Web is not in the descriptor set");
  return service;
}
