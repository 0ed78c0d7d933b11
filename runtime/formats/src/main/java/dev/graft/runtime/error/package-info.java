/** The base of the runtime's exceptions ({@link dev.graft.runtime.error.GraftException}), shared by every runtime module. */
package dev.graft.runtime.error;
