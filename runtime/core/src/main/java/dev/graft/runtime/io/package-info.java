/** Small file utilities: whole-file writes that are atomic. */
package dev.graft.runtime.io;
