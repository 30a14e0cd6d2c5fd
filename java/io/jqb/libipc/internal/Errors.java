package io.jqb.libipc.internal;

import io.jqb.Errno;
import io.jqb.IpcException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;

/** Maps the JDK's I/O exceptions (which carry strerror text, not errno) to {@link IpcException}s. */
public final class Errors {
    private Errors() {
    }

    /** @return the errno an I/O exception stands for (EIO when unknown) */
    public static int errno(IOException e) {
        if (e instanceof RawSocket.Failure) {
            return ((RawSocket.Failure) e).errno();
        }
        if (e instanceof NoSuchFileException) {
            return Errno.ENOENT;
        }
        if (e instanceof AccessDeniedException) {
            return Errno.EACCES;
        }
        if (e instanceof FileAlreadyExistsException) {
            return Errno.EEXIST;
        }
        if (e instanceof ClosedChannelException) {
            return Errno.ENOTCONN;
        }
        String m = String.valueOf(e.getMessage());
        if (m.contains("Connection refused")) {
            return Errno.ECONNREFUSED;
        }
        if (m.contains("No such file")) {
            return Errno.ENOENT;
        }
        if (m.contains("Permission denied")) {
            return Errno.EACCES;
        }
        if (m.contains("Connection reset")) {
            return Errno.ECONNRESET;
        }
        if (m.contains("Broken pipe")) {
            return Errno.EPIPE;
        }
        if (m.contains("Address already in use")) {
            return Errno.EADDRINUSE;
        }
        if (m.contains("too long")) {
            return Errno.ENAMETOOLONG;
        }
        // accept(2) out of resources (the JDK throws a plain IOException with strerror's text)
        if (m.contains("Too many open files in system")) {
            return jnr.constants.platform.Errno.ENFILE.intValue();
        }
        if (m.contains("Too many open files")) {
            return jnr.constants.platform.Errno.EMFILE.intValue();
        }
        if (m.contains("No buffer space")) {
            return Errno.ENOBUFS;
        }
        if (m.contains("Cannot allocate memory")) {
            return Errno.ENOMEM;
        }
        return Errno.EIO;
    }

    /** @return an IpcException for {@code e}, with the JDK's text as detail and {@code e} as cause */
    public static IpcException of(String operation, IOException e) {
        IpcException x = IpcException.of(operation, errno(e), e.getMessage());
        x.initCause(e);
        return x;
    }
}
