/** The ONNX protobuf codec: lossless decode and encode of models, and helpers to build and edit graphs. */
export * from './proto.ts';
