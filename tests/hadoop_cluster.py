"""A Hadoop cluster (HDFS and YARN) from Apache's own jars, each daemon a JVM of its own.

The jars come from Maven Central through tests/hadoop/pom.xml (`fetch`),
into build/hadoop/lib. There are no bin/ scripts in those jars, and none are
needed: a daemon starts as `java -cp CONF:LIB/* CLASS`, which is what the
scripts come down to, and a small `hadoop` launcher (written into the
cluster's folder) does for clients what bin/hadoop does.

The hosts: "master" runs the NameNode, the ResourceManager and the
JobHistoryServer (and the clients); "worker1" and "worker2" each run a
DataNode and a NodeManager, with folders and a configuration of their own.
They are either the network namespaces of tests/netns.py, each process there
under a host name that is its host's address (so every daemon and container
advertises that address), or all 127.0.0.1 with ports of their own
(`Loopback`, tools/hadoop-cluster's default). Every daemon is started, and
stopped, by its PID; the tests and tools/hadoop-cluster share this code.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "tests" / "hadoop" / "pom.xml"
LIB = ROOT / "build" / "hadoop" / "lib"
VERSION = "3.5.0"
HOSTS = ("master", "worker1", "worker2")
WORKERS = HOSTS[1:]

# What bin/hadoop's scripts give every JVM on Java 17 (and a few more): the
# reflective access into the JDK that Hadoop and its libraries still use.
OPENS = [f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in (
    "java.lang", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util",
    "java.util.concurrent", "java.util.zip", "java.math", "java.text",
    "sun.security.util", "sun.security.x509", "sun.nio.ch")]

# Each daemon: its class and heap. Small heaps: seven JVMs share two cores.
DAEMONS = {
    "namenode": ("org.apache.hadoop.hdfs.server.namenode.NameNode", "384m"),
    "datanode": ("org.apache.hadoop.hdfs.server.datanode.DataNode", "192m"),
    "resourcemanager": ("org.apache.hadoop.yarn.server.resourcemanager.ResourceManager", "384m"),
    "nodemanager": ("org.apache.hadoop.yarn.server.nodemanager.NodeManager", "256m"),
    "historyserver": ("org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer", "256m"),
}
# Where each runs, in start order; stopped the other way round.
PLACES = [("namenode", "master"), ("datanode", "worker1"), ("datanode", "worker2"),
          ("resourcemanager", "master"), ("historyserver", "master"),
          ("nodemanager", "worker1"), ("nodemanager", "worker2")]

# Each NodeManager offers 2 GB: room for four 512 MB MapReduce containers,
# or a Spark AM and an executor, so that a job of a few tasks needs both.
NODE_MB = 2048
CONTAINER_MB = 512

MASTER_PORTS = {"nn": 8020, "nn_http": 9870, "rm": 8032, "rm_scheduler": 8030, "rm_tracker": 8031,
                "rm_admin": 8033, "rm_web": 8088, "jhs": 10020, "jhs_web": 19888, "jhs_admin": 10033}
WORKER_PORTS = {"dn": 9866, "dn_http": 9864, "dn_ipc": 9867, "nm": 8041, "nm_localizer": 8040,
                "nm_web": 8042, "shuffle": 13562}

LAUNCHER = """\
#!/bin/sh
# bin/hadoop for the cluster in {folder}: the same classes, from the Maven jars.
: "${{HADOOP_CONF_DIR:={conf}}}"
export HADOOP_CONF_DIR
case "$1" in
    fs|dfs) class=org.apache.hadoop.fs.FsShell ;;
    jar) class=org.apache.hadoop.util.RunJar ;;
    version) class=org.apache.hadoop.util.VersionInfo ;;
    job) class=org.apache.hadoop.mapred.JobClient ;;
    classpath) echo "$HADOOP_CONF_DIR:{lib}/*"; exit 0 ;;
    ""|-*) echo "usage: hadoop fs|dfs|jar|version|job|classpath|CLASSNAME [ARGS]" >&2; exit 2 ;;
    *) class=$1 ;;
esac
shift
exec "{java}" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC {opens} -Djava.net.preferIPv4Stack=true \\
    -Dhadoop.root.logger="${{HADOOP_ROOT_LOGGER:-INFO,console}}" -Dhadoop.log.dir="{folder}/logs" \\
    -cp "$HADOOP_CONF_DIR:{lib}/*" $HADOOP_CLIENT_OPTS "$class" "$@"
"""

LOG4J = """\
# Everything to stderr, which each daemon's log file receives.
hadoop.root.logger=INFO,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.conf.Configuration.deprecation=WARN
"""

CAPACITY = {
    "yarn.scheduler.capacity.root.queues": "default",
    "yarn.scheduler.capacity.root.default.capacity": "100",
    "yarn.scheduler.capacity.root.default.maximum-capacity": "100",
    # An application master may use half the cluster (the default, a tenth,
    # would let no Spark AM start on 4 GB).
    "yarn.scheduler.capacity.maximum-am-resource-percent": "0.5",
    "yarn.scheduler.capacity.root.default.state": "RUNNING",
    "yarn.scheduler.capacity.root.default.acl_submit_applications": "*",
    "yarn.scheduler.capacity.root.default.acl_administer_queue": "*",
    # Containers are placed as each node reports in, not after a delay.
    "yarn.scheduler.capacity.node-locality-delay": "-1",
}


def fetch(lib=LIB, quiet=True):
    """The Hadoop jars and their dependencies into `lib`, with Maven, unless they are there."""
    if (Path(lib) / f"hadoop-common-{VERSION}.jar").exists() and streaming_jar(lib):
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("mvn (Maven) is not installed: it fetches the Hadoop jars")
    subprocess.run([mvn, *(["-q"] if quiet else []), "-f", str(POM), "dependency:copy-dependencies",
                    "-DincludeScope=runtime", f"-DoutputDirectory={lib}"], check=True)


def streaming_jar(lib=LIB):
    jars = sorted(Path(lib).glob("hadoop-streaming-*.jar"))
    return jars[-1] if jars else None


def java_home():
    return str(Path(os.path.realpath(shutil.which("java") or "/usr/bin/java")).parent.parent)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_xml(props):
    rows = "".join(f"  <property><name>{escape(k)}</name><value>{escape(str(v))}</value></property>\n"
                   for k, v in props.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


def with_hostname(address, argv):
    """`argv` in a UTS namespace of its own whose host name is `address`.

    Hadoop's daemons and containers (and Spark's) name their host by
    InetAddress.getLocalHost(): the test hosts all share this machine's name,
    and each must be known by its own address.
    """
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', address, *argv]


class Loopback:
    """Every host is this machine, at 127.0.0.1."""

    kind = "loopback"

    def address(self, host):
        return "127.0.0.1"

    def command(self, host, argv):
        return argv

    def start(self, host, argv, log, env):
        with open(log, "wb") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)

    def ports(self, host):
        names = MASTER_PORTS if host == "master" else WORKER_PORTS
        return {name: free_port() for name in names}

    def get(self, url, timeout=10):
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()


class Namespaces:
    """The hosts of a netns.Network, each process under its address as host name."""

    kind = "namespaces"

    def __init__(self, net):
        self.net = net

    def address(self, host):
        return self.net.address[host]

    def command(self, host, argv):
        return self.net.command(host, with_hostname(self.address(host), argv))

    def start(self, host, argv, log, env):
        return self.net.start(host, with_hostname(self.address(host), argv), log, env=env)

    def ports(self, host):
        return dict(MASTER_PORTS if host == "master" else WORKER_PORTS)

    def get(self, url, timeout=10):
        # The hosts' addresses exist only in their namespaces: ask from the master.
        done = subprocess.run(self.net.command("master", [
            sys.executable, "-c", "import sys, urllib.request; sys.stdout.buffer.write("
            f"urllib.request.urlopen({url!r}, timeout={timeout}).read())"]),
            capture_output=True, timeout=timeout + 30)
        if done.returncode != 0:
            raise OSError(done.stderr.decode(errors="replace").strip().splitlines()[-1:])
        return done.stdout


class Cluster:
    """The cluster's configuration and daemons, in `folder` on `hosts`.

    `path` is the PATH the NodeManagers (so every container) get: the
    `jsonfilter` a streaming job runs is the first one on it.
    """

    def __init__(self, folder, hosts, lib=LIB, path=None):
        self.folder = Path(folder).resolve()
        self.hosts = hosts
        self.lib = Path(lib).resolve()
        self.path = path or os.environ.get("PATH", "/usr/bin:/bin")
        self.java = shutil.which("java") or "java"
        self.addr = {host: hosts.address(host) for host in HOSTS}
        self.ports = {host: hosts.ports(host) for host in HOSTS}
        self.procs = []  # (name, host, Popen), in start order
        # MapReduce's shuffle server listens on every address (it takes no
        # host): only where the hosts are namespaces. The jobs here are map-only.
        self.shuffle = hosts.kind == "namespaces"

    # ------------------------------------------------------------ addresses

    def at(self, host, port):
        return f"{self.addr[host]}:{self.ports[host][port]}"

    @property
    def rm_url(self):
        return f"http://{self.at('master', 'rm_web')}"

    @property
    def nn_url(self):
        return f"http://{self.at('master', 'nn_http')}"

    @property
    def jhs_url(self):
        return f"http://{self.at('master', 'jhs_web')}"

    @property
    def fs_uri(self):
        return f"hdfs://{self.at('master', 'nn')}"

    def conf_dir(self, host):
        return self.folder / "conf" / host

    @property
    def client_conf(self):
        return self.conf_dir("master")

    @property
    def resources(self):
        return self.folder / "resources"

    @property
    def bin(self):
        return self.folder / "bin"

    @property
    def hadoop(self):
        return self.bin / "hadoop"

    def worker_of(self, node_id):
        """The worker whose NodeManager the ResourceManager calls `node_id` (HOST:PORT; on
        loopback HOST is whatever 127.0.0.1 resolves to, such as localhost)."""
        host, _, port = node_id.rpartition(":")
        for worker in WORKERS:
            if int(port) == self.ports[worker]["nm"] and host in (self.addr[worker], "localhost"):
                return worker
        return None

    def log_dir(self, host):
        """A NodeManager's container logs: one folder per application, one per container in it."""
        return self.folder / host / "nm-logs"

    # ------------------------------------------------------------ configuration

    def common(self):
        classpath = f"{self.lib}/*"
        return {
            "core": {
                "fs.defaultFS": self.fs_uri,
                "hadoop.tmp.dir": str(self.folder / "tmp"),
                # Root runs everything here; HDFS may not refuse it.
                "hadoop.proxyuser.root.hosts": "*",
                "hadoop.proxyuser.root.groups": "*",
            },
            "hdfs": {
                "dfs.namenode.rpc-address": self.at("master", "nn"),
                "dfs.namenode.http-address": self.at("master", "nn_http"),
                "dfs.namenode.name.dir": str(self.folder / "master" / "name"),
                "dfs.replication": "2",
                "dfs.permissions.enabled": "false",
                # The DataNodes are known by address alone: there is no DNS.
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
                "dfs.client.use.datanode.hostname": "false",
                "dfs.namenode.safemode.extension": "0",
                "dfs.namenode.safemode.min.datanodes": "0",
                "dfs.heartbeat.interval": "1",
                "dfs.namenode.heartbeat.recheck-interval": "10000",
            },
            "yarn": {
                "yarn.resourcemanager.hostname": self.addr["master"],
                "yarn.resourcemanager.address": self.at("master", "rm"),
                "yarn.resourcemanager.scheduler.address": self.at("master", "rm_scheduler"),
                "yarn.resourcemanager.resource-tracker.address": self.at("master", "rm_tracker"),
                "yarn.resourcemanager.admin.address": self.at("master", "rm_admin"),
                "yarn.resourcemanager.webapp.address": self.at("master", "rm_web"),
                "yarn.resourcemanager.scheduler.class":
                    "org.apache.hadoop.yarn.server.resourcemanager.scheduler.capacity.CapacityScheduler",
                "yarn.scheduler.minimum-allocation-mb": "128",
                "yarn.scheduler.maximum-allocation-mb": str(NODE_MB),
                "yarn.nodemanager.resource.memory-mb": str(NODE_MB),
                "yarn.nodemanager.resource.cpu-vcores": "4",
                # The JVMs' virtual memory is many times their heap, and
                # PySpark's Python workers count against an executor's size:
                # YARN's memory checks would kill containers that are fine.
                "yarn.nodemanager.vmem-check-enabled": "false",
                "yarn.nodemanager.pmem-check-enabled": "false",
                # A shared, well-filled disk must not mark the nodes unhealthy.
                "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99.9",
                "yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb": "512",
                "yarn.nodemanager.aux-services": "mapreduce_shuffle" if self.shuffle else "",
                "yarn.nodemanager.aux-services.mapreduce_shuffle.class": "org.apache.hadoop.mapred.ShuffleHandler",
                # A NodeManager that stops without a word is lost after this
                # (10 minutes by default).
                "yarn.nm.liveness-monitor.expiry-interval-ms": "20000",
                "yarn.nodemanager.env-whitelist":
                    "JAVA_HOME,HADOOP_CONF_DIR,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_YARN_HOME,"
                    "HADOOP_MAPRED_HOME,PATH,LANG,TZ",
                "yarn.application.classpath": f"$HADOOP_CONF_DIR,{classpath}",
                # The containers' PATH, where a streaming mapper's command is
                # looked for. The whitelist above would pass the
                # NodeManager's own, but bash, which runs each container's
                # launch script, sets a PATH of its own first.
                "yarn.nodemanager.admin-env": f"MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX,PATH={self.path}",
                # Container logs stay in each NodeManager's folder, where the
                # tests look for them.
                "yarn.log-aggregation-enable": "false",
                "yarn.nodemanager.log.retain-seconds": "86400",
                "yarn.nodemanager.recovery.enabled": "false",
                "yarn.nodemanager.container-monitor.interval-ms": "1000",
                "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": "500",
                "yarn.timeline-service.enabled": "false",
            },
            "mapred": {
                "mapreduce.framework.name": "yarn",
                "mapreduce.application.classpath": classpath,
                "mapreduce.jobhistory.address": self.at("master", "jhs"),
                "mapreduce.jobhistory.webapp.address": self.at("master", "jhs_web"),
                "mapreduce.jobhistory.admin.address": self.at("master", "jhs_admin"),
                "yarn.app.mapreduce.am.resource.mb": str(CONTAINER_MB),
                "yarn.app.mapreduce.am.command-opts": "-Xmx320m -XX:TieredStopAtLevel=1",
                "mapreduce.map.memory.mb": str(CONTAINER_MB),
                "mapreduce.map.java.opts": "-Xmx256m -XX:TieredStopAtLevel=1",
                "mapreduce.reduce.memory.mb": str(CONTAINER_MB),
                "mapreduce.reduce.java.opts": "-Xmx256m -XX:TieredStopAtLevel=1",
                "mapreduce.client.completion.pollinterval": "500",
                "yarn.app.mapreduce.am.scheduler.heartbeat.interval-ms": "500",
                "mapreduce.job.ubertask.enable": "false",
                # No second copy of a slow task: every attempt a test sees is one it caused.
                "mapreduce.map.speculative": "false",
                "mapreduce.reduce.speculative": "false",
            },
        }

    def worker_overrides(self, host):
        a = self.addr[host]
        return {
            "hdfs": {
                "dfs.datanode.address": self.at(host, "dn"),
                "dfs.datanode.http.address": self.at(host, "dn_http"),
                "dfs.datanode.ipc.address": self.at(host, "dn_ipc"),
                "dfs.datanode.hostname": a,
                "dfs.datanode.data.dir": str(self.folder / host / "data"),
            },
            "yarn": {
                "yarn.nodemanager.hostname": a,
                "yarn.nodemanager.address": self.at(host, "nm"),
                "yarn.nodemanager.localizer.address": self.at(host, "nm_localizer"),
                "yarn.nodemanager.webapp.address": self.at(host, "nm_web"),
                "yarn.nodemanager.local-dirs": str(self.folder / host / "nm-local"),
                "yarn.nodemanager.log-dirs": str(self.log_dir(host)),
            },
            "mapred": {"mapreduce.shuffle.port": str(self.ports[host]["shuffle"])},
        }

    def write_config(self):
        for host in HOSTS:
            conf = self.conf_dir(host)
            conf.mkdir(parents=True, exist_ok=True)
            sites = self.common()
            if host != "master":
                for name, props in self.worker_overrides(host).items():
                    sites[name].update(props)
            for name, props in sites.items():
                (conf / f"{name}-site.xml").write_text(site_xml(props))
            (conf / "capacity-scheduler.xml").write_text(site_xml(CAPACITY))
            (conf / "log4j.properties").write_text(LOG4J)
            (self.folder / host).mkdir(exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        # The HDFS daemons' web servers (their /jmx, WebHDFS) start only when
        # webapps/NAME is on the class path; the hadoop-hdfs jar on Maven
        # Central leaves those folders (the web UI's pages) out.
        for app in ("hdfs", "datanode"):
            (self.resources / "webapps" / app).mkdir(parents=True, exist_ok=True)
        self.bin.mkdir(exist_ok=True)
        self.hadoop.write_text(LAUNCHER.format(folder=self.folder, conf=self.client_conf, lib=self.lib,
                                               java=self.java, opens=" ".join(OPENS)))
        self.hadoop.chmod(0o755)

    # ------------------------------------------------------------ daemons

    def java_command(self, host, daemon, *args, heap=None):
        cls, default_heap = DAEMONS[daemon]
        logs = self.folder / "logs"
        return [self.java, f"-Xmx{heap or default_heap}", "-XX:+UseSerialGC", *OPENS,
                "-Djava.net.preferIPv4Stack=true", f"-Dhadoop.log.dir={logs}", f"-Dyarn.log.dir={logs}",
                f"-Dhadoop.log.file={daemon}-{host}.log", "-Dhadoop.root.logger=INFO,console",
                f"-Dhadoop.home.dir={self.folder}",
                "-cp", f"{self.conf_dir(host)}:{self.resources}:{self.lib}/*", cls, *args]

    def daemon_env(self, host):
        return {"PATH": self.path, "JAVA_HOME": java_home(), "HADOOP_CONF_DIR": str(self.conf_dir(host)),
                "HOME": os.environ.get("HOME", "/root"), "LANG": os.environ.get("LANG", "C.UTF-8"),
                "USER": os.environ.get("USER", "root")}

    def log(self, daemon, host):
        return self.folder / "logs" / f"{daemon}-{host}.out"

    def format(self):
        done = subprocess.run(self.hosts.command("master", self.java_command(
            "master", "namenode", "-format", "-nonInteractive", "-force")),
            env=self.daemon_env("master"), capture_output=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"NameNode -format exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")

    def start_daemon(self, daemon, host):
        proc = self.hosts.start(host, self.java_command(host, daemon), self.log(daemon, host),
                                self.daemon_env(host))
        self.procs.append((daemon, host, proc))
        return proc

    def start(self, timeout=300):
        """Write the configuration, format HDFS, start every daemon; return once the cluster takes jobs."""
        self.write_config()
        self.format()
        for daemon, host in PLACES:
            self.start_daemon(daemon, host)
        self.wait_ready(timeout)
        self.hdfs_cmd("-mkdir", "-p", "/user/root", "/tmp")
        return self

    def check_alive(self):
        for daemon, host, proc in self.procs:
            if proc.poll() is not None:
                tail = self.log(daemon, host).read_text(errors="replace")[-4000:]
                raise RuntimeError(f"{daemon} on {host} exited with {proc.returncode}:\n{tail}")

    def get_json(self, url):
        return json.loads(self.hosts.get(url))

    def live_datanodes(self):
        beans = self.get_json(f"{self.nn_url}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")["beans"]
        return beans[0]["NumLiveDataNodes"] if beans else 0

    def nodes(self):
        """The ResourceManager's nodes, by node ID."""
        nodes = listed((self.get_json(f"{self.rm_url}/ws/v1/cluster/nodes")["nodes"] or {}).get("node", []))
        return {node["id"]: node for node in nodes}

    def running_workers(self):
        return sorted(self.worker_of(i) or i for i, node in self.nodes().items() if node["state"] == "RUNNING")

    def wait_for(self, predicate, what, timeout=300):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.check_alive()
            try:
                if predicate():
                    return
            except (OSError, ValueError, KeyError) as err:
                last = err
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not after {timeout} s (last error: {last})")
            time.sleep(1)

    def wait_ready(self, timeout=300):
        self.wait_for(lambda: self.live_datanodes() == 2, "the NameNode with 2 live DataNodes", timeout)
        self.wait_for(lambda: self.running_workers() == list(WORKERS), "the ResourceManager with 2 RUNNING nodes",
                      timeout)
        self.wait_for(lambda: self.get_json(f"{self.jhs_url}/ws/v1/history/info"), "the JobHistoryServer",
                      timeout)

    # ------------------------------------------------------------ clients

    @property
    def spark_conf_dir(self):
        return self.folder / "spark-conf"

    def spark_defaults(self):
        """spark-defaults.conf for `spark-submit --master yarn` from the master."""
        import pyspark  # only the Spark jobs need it
        jars = Path(pyspark.__file__).parent / "jars"
        master = self.addr["master"]
        return {
            # The pip package's jars, where every node has them (no upload).
            "spark.yarn.jars": f"local:{jars}/*",
            # Spark has its own Hadoop client jars; YARN's would clash.
            "spark.yarn.populateHadoopClasspath": "false",
            "spark.ui.enabled": "false",
            "spark.driver.host": master,
            "spark.driver.bindAddress": master,
            "spark.yarn.am.memory": "512m",
            "spark.executor.instances": "2",
            "spark.executor.memory": "512m",
            "spark.executor.cores": "1",
            "spark.pyspark.python": sys.executable,
        }

    def spark_env(self):
        """What spark-submit needs besides client_env: its defaults, the driver's address."""
        self.spark_conf_dir.mkdir(exist_ok=True)
        (self.spark_conf_dir / "spark-defaults.conf").write_text(
            "".join(f"{k} {v}\n" for k, v in self.spark_defaults().items()))
        return {"SPARK_CONF_DIR": str(self.spark_conf_dir), "SPARK_LOCAL_IP": self.addr["master"],
                "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}

    def luigi_cfg(self, python=sys.executable):
        """A luigi.cfg whose [hadoop] section runs JobTasks on this cluster."""
        return (f"[hadoop]\ncommand = {self.hadoop}\nstreaming-jar = {streaming_jar(self.lib)}\n"
                f"python-executable = {python}\nversion = cdh4\n\n"
                "[retcode]\nalready_running = 10\nmissing_data = 20\nnot_run = 25\ntask_failed = 30\n"
                "scheduling_error = 35\nunhandled_exception = 40\n")

    def client_env(self, base=None):
        env = dict(base if base is not None else os.environ)
        env["HADOOP_CONF_DIR"] = str(self.client_conf)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def hdfs_cmd(self, *args, timeout=120):
        done = subprocess.run(self.hosts.command("master", [str(self.hadoop), "fs", *args]),
                              env=self.client_env(), capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"hadoop fs {' '.join(args)}: exit {done.returncode}\n{done.stderr.decode()[-3000:]}")
        return done.stdout

    def stop_daemon(self, daemon, host):
        for entry in list(self.procs):
            if entry[:2] == (daemon, host):
                stop_group(entry[2].pid)
                entry[2].wait()
                self.procs.remove(entry)

    def stop(self):
        """Stop every daemon, the last started first, then whatever they left running."""
        for _, _, proc in reversed(self.procs):
            stop_group(proc.pid)
            proc.wait()
        self.procs.clear()
        for pid in leftovers(self.folder):
            stop_group(pid, group=False)

    # ------------------------------------------------------------ proof

    def apps(self, **query):
        url = f"{self.rm_url}/ws/v1/cluster/apps"
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return listed((self.get_json(url)["apps"] or {}).get("app", []))

    def containers_of(self, app_id):
        """{worker: [container log folders of the application there]}."""
        return {host: sorted((self.log_dir(host) / app_id).glob("container_*")) for host in WORKERS}

    def job_counters(self, job_id):
        """{group: {counter: total}} of a finished MapReduce job, from the history server."""
        url = f"{self.jhs_url}/ws/v1/history/mapreduce/jobs/{job_id}/counters"
        groups = self.get_json(url)["jobCounters"].get("counterGroup", [])
        return {g["counterGroupName"]: {c["name"]: c["totalCounterValue"] for c in listed(g.get("counter", []))}
                for g in listed(groups)}


def listed(value):
    """A list the REST API's JSON may give as its one item alone."""
    return value if isinstance(value, list) else [value]


def stop_group(pid, group=True, grace=30):
    """Stop a process (and its process group, which it leads) by its PID: SIGTERM, then SIGKILL."""
    kill = os.killpg if group else os.kill
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                kill(pid, 0)
            except ProcessLookupError:
                return
            if _zombie(pid):
                return
            time.sleep(0.1)


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def leftovers(folder):
    """PIDs of live processes that name the cluster's folder, or run in a container's: daemons, tasks."""
    folder = str(Path(folder).resolve())
    local = tuple(f"{folder}/{host}/nm-local/" for host in WORKERS)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if (folder in cmdline or (cwd + "/").startswith(local)) and not _zombie(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)
