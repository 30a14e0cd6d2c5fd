package io.jqb.stream;

/**
 * A per-connection service run by an {@link IpcServer}: the server makes a fresh {@link #copy()} of a prototype for
 * every accepted connection and calls {@link #serve(Ipc)} on a thread of its own.
 */
public interface IpcService {
    /** @return a fresh service object for one connection (state is not shared unless the copy shares it) */
    IpcService copy();

    /**
     * Serves one connection until it ends. The service owns {@code ipc} and closes it; {@link IpcServer#stopNow()}
     * closes it from another thread, which makes blocked reads and writes return or throw.
     * @param ipc the accepted connection
     */
    void serve(Ipc ipc);
}
