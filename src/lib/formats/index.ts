/** File formats, byte in, byte out: safetensors, float16, ONNX protobuf, zip. */
export * from './float16.ts';
export * from './safetensors.ts';
export * from './onnx/index.ts';
export * from './zip/index.ts';
