package io.jqb;

import io.jqb.cli.EchoHandler;
import io.jqb.testutil.ShmAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The jqb client against the jqb {@link Service} running {@link EchoHandler} in this JVM: the same echo contract as
 * against native libqb ({@link ClientEchoContract}).
 */
class ClientJqbServiceTest extends ClientEchoContract {
    private static Service service;
    private static String name;

    @BeforeAll
    static void startService() throws IpcException {
        name = io.jqb.testutil.NativeServer.uniqueName("jqbsvc");
        service = Service.create(name, 0, TransportType.SHM, new EchoHandler());
        service.run();
    }

    @AfterAll
    static void stopService() {
        if (service != null) {
            service.close();
            ShmAssert.assertNoneLeft(OUR_PID, OUR_PID);
        }
    }

    @Override
    String service() {
        return name;
    }

    @Override
    long serverPid() {
        return OUR_PID;
    }

    @Override
    int serverConnections() {
        return service.connections().size();
    }
}
