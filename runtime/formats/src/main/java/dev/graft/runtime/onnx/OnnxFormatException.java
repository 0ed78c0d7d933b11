package dev.graft.runtime.onnx;

import dev.graft.runtime.error.GraftException;

/**
 * Thrown when an ONNX file cannot be read: malformed protobuf, a tensor whose data does not match its shape, or a
 * feature this reader does not support (external data, sparse initializers). The message names the file and, where
 * one is involved, the tensor.
 */
public final class OnnxFormatException extends GraftException {
    private static final long serialVersionUID = 1L;

    public OnnxFormatException(String message) {
        super(Kind.FAILURE, message, null);
    }

    public OnnxFormatException(String message, Throwable cause) {
        super(Kind.FAILURE, message, cause);
    }
}
