// A real Kubernetes control plane on loopback for the engine tests: etcd, kube-apiserver and
// kube-controller-manager built by scripts/kube.sh, with certificates of their own and a token
// for an admin, plus a small fake kubelet (one Node; pods bound to it and marked Running and
// Ready; terminating pods removed) so that Deployments roll out without a container runtime, and a
// volume provisioner's part (a hostPath PersistentVolume made for each claim that waits for one).
// Everything lives in one temporary folder and process groups, removed and stopped by `stop()`.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { freePort } from "./e2e";
import { AtomicVolume } from "./atomic-volume";
import { builtBy, EngineProject } from "./engine";

/** The Kubernetes parts (scripts/kube.sh): why a local cluster cannot run here, or their folder. */
export const { unavailable: kubeUnavailable, dir: kubeBinDir } = builtBy("kube.sh", "the Kubernetes parts", 40 * 60_000);

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** The name of the one Node the fake kubelet runs. */
const NODE = "intake-node-1";

export class LocalCluster {
  readonly dir: string;
  readonly kubeconfig: string;
  server = "";
  private readonly token = randomBytes(24).toString("hex");
  private ca = "";
  private readonly procs: ChildProcess[] = [];
  private kubelet?: NodeJS.Timeout;
  private kubeletBusy = false;
  private stderr = new Map<string, string>();

  private constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "intake-kube-"));
    this.kubeconfig = path.join(this.dir, "kubeconfig");
  }

  /** etcd, kube-apiserver (RBAC on, token auth), kube-controller-manager and the fake kubelet; about 10 s. */
  static async start(): Promise<LocalCluster> {
    const c = new LocalCluster();
    try {
      await c.boot();
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private async boot(): Promise<void> {
    const bin = kubeBinDir();
    const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe", cwd: this.dir });
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
    ssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=intake-test-cluster-ca");
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key");
    ssl("req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver");
    writeFileSync(this.file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n");
    ssl(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "2",
      "-extfile",
      "server.ext",
    );
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key");
    ssl("ec", "-in", "sa.key", "-pubout", "-out", "sa.pub");
    this.ca = readFileSync(this.file("ca.crt"), "utf8");
    writeFileSync(this.file("tokens.csv"), `${this.token},intake-test-admin,intake-test-admin,"system:masters"\n`, { mode: 0o600 });

    const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
    this.run("etcd", path.join(bin, "etcd"), [
      "--name=default",
      `--data-dir=${this.file("etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
      "--log-level=error",
    ]);
    await this.until(
      "etcd",
      async () =>
        await fetch(`http://127.0.0.1:${client}/health`)
          .then((r) => r.ok)
          .catch(() => false),
    );

    this.server = `https://127.0.0.1:${secure}`;
    this.run("kube-apiserver", path.join(bin, "kube-apiserver"), [
      `--etcd-servers=http://127.0.0.1:${client}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${secure}`,
      `--tls-cert-file=${this.file("server.crt")}`,
      `--tls-private-key-file=${this.file("server.key")}`,
      `--token-auth-file=${this.file("tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-key-file=${this.file("sa.pub")}`,
      `--service-account-signing-key-file=${this.file("sa.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--service-cluster-ip-range=10.96.0.0/24",
      `--cert-dir=${this.file("certs")}`,
      "--v=0",
    ]);
    writeFileSync(
      this.kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "intake-test", cluster: { server: this.server, "certificate-authority-data": Buffer.from(this.ca).toString("base64") } }],
        users: [{ name: "intake-test-admin", user: { token: this.token } }],
        contexts: [{ name: "intake-test", context: { cluster: "intake-test", user: "intake-test-admin" } }],
        "current-context": "intake-test",
      }),
      { mode: 0o600 },
    );
    await this.until("kube-apiserver", async () => (await this.api("GET", "/readyz").catch(() => ({ status: 0 }))).status === 200, 60_000);

    this.run("kube-controller-manager", path.join(bin, "kube-controller-manager"), [
      `--kubeconfig=${this.kubeconfig}`,
      "--controllers=namespace-controller,garbage-collector-controller,deployment-controller,replicaset-controller,serviceaccount-controller,endpoints-controller,endpointslice-controller,persistentvolume-binder-controller",
      "--leader-elect=false",
      "--secure-port=0",
      "--concurrent-deployment-syncs=2",
      "--v=0",
    ]);
    // The default ServiceAccount of the default namespace: the controller manager is up.
    await this.until(
      "kube-controller-manager",
      async () => (await this.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
      60_000,
    );
    await this.startKubelet();
  }

  private run(name: string, cmd: string, args: string[]): void {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], detached: true, cwd: this.dir });
    let err = "";
    child.stderr!.on("data", (d) => {
      err = (err + d).slice(-8000);
      this.stderr.set(name, err);
    });
    this.procs.push(child);
  }

  private async until(name: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await ready()) return;
      const dead = this.procs.find((p) => p.exitCode !== null || p.signalCode !== null);
      if (dead || Date.now() > deadline)
        throw new Error(
          `${name} did not start${dead ? ` (a process exited ${dead.exitCode ?? dead.signalCode})` : ""}: ${(this.stderr.get(name) ?? "").trim().split("\n").slice(-5).join(" | ")}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** One request to the API server as the admin; JSON in and out. */
  api<T = Record<string, unknown>>(method: string, urlPath: string, body?: unknown, contentType = "application/json"): Promise<ApiAnswer<T>> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
      const req = https.request(
        `${this.server}${urlPath}`,
        {
          method,
          ca: this.ca,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "application/json",
            ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* readyz answers text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** External Secrets Operator's CRDs (from scripts/kube.sh), applied and established: its objects are checked by its own schema. */
  async installEsoCrds(): Promise<void> {
    const dir = path.join(kubeBinDir(), "crds");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
      const crd = parse(readFileSync(path.join(dir, file), "utf8")) as { metadata: { name: string } };
      const r = await this.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
      if (r.status !== 201) throw new Error(`CRD ${file}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      for (let i = 0; ; i++) {
        const got = await this.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        if (got?.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Established" && c.status === "True")) break;
        if (i > 100) throw new Error(`CRD ${crd.metadata.name} not established in 10 s`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }

  /** Namespaces, as a cluster admin makes them before a stack runs. */
  async createNamespaces(names: string[]): Promise<void> {
    for (const name of names) {
      const r = await this.api("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
      if (r.status !== 201) throw new Error(`namespace ${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
  }

  /** GET an object; undefined when it does not exist. */
  async get(urlPath: string): Promise<Record<string, any> | undefined> {
    const r = await this.api<Record<string, any>>("GET", urlPath);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }

  /**
   * The kubelet's volume part for one container of a pod template: each Secret, ConfigMap and
   * projected volume it mounts is written under `root` + its mount path as the kubelet writes it
   * (atomic `..data` swaps, testing/atomic-volume.ts), and rewritten within 200 ms of a change of
   * its objects. `stop()` ends the syncing; `synced()` resolves after the next full pass.
   */
  mountVolumes(namespace: string, template: Record<string, any>, container: string, root: string): { stop(): void; synced(): Promise<void> } {
    const spec = template.spec;
    const c = (spec.containers as Record<string, any>[]).find((x) => x.name === container);
    if (!c) throw new Error(`no container ${container} in the pod template`);
    type Source = { kind: "secrets" | "configmaps"; name: string; optional?: boolean; items?: { key: string; path: string }[] };
    const sourcesOf = (v: Record<string, any>): Source[] => {
      if (v.secret) return [{ kind: "secrets", name: v.secret.secretName, optional: v.secret.optional, items: v.secret.items }];
      if (v.configMap) return [{ kind: "configmaps", name: v.configMap.name, optional: v.configMap.optional, items: v.configMap.items }];
      if (v.projected)
        return (v.projected.sources as Record<string, any>[]).flatMap((s) => sourcesOf(s.secret ? { secret: { ...s.secret, secretName: s.secret.name } } : s));
      return [];
    };
    const mounts = (c.volumeMounts as { name: string; mountPath: string }[]).flatMap((m) => {
      const v = (spec.volumes as Record<string, any>[]).find((x) => x.name === m.name);
      const sources = v ? sourcesOf(v) : [];
      return sources.length ? [{ volume: new AtomicVolume(path.join(root, m.mountPath)), sources, last: "" }] : [];
    });
    const files = async (sources: Source[]): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const s of sources) {
        const o = await this.get(`/api/v1/namespaces/${namespace}/${s.kind}/${s.name}`);
        if (!o) {
          if (s.optional) continue;
          throw new Error(`${s.kind} ${namespace}/${s.name} does not exist`);
        }
        const data: Record<string, string> = Object.fromEntries(
          Object.entries((o.data ?? {}) as Record<string, string>).map(([k, x]) => [k, s.kind === "secrets" ? Buffer.from(x, "base64").toString("utf8") : x]),
        );
        for (const [k, x] of Object.entries(data)) {
          const item = s.items ? s.items.find((i) => i.key === k) : { path: k };
          if (item) out[item.path] = x;
        }
      }
      return out;
    };
    let running = true;
    let passes = 0;
    let failed: unknown;
    const pass = async () => {
      for (const m of mounts) {
        const f = await files(m.sources);
        const text = JSON.stringify(f);
        if (text !== m.last) {
          m.volume.write(f);
          m.last = text;
        }
      }
      passes++;
    };
    const loop = (async () => {
      while (running) {
        await pass().then(
          () => (failed = undefined),
          (e) => {
            failed = e;
            passes++;
          },
        );
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return {
      stop: () => {
        running = false;
        void loop;
      },
      synced: async () => {
        const target = passes + 2;
        while (passes < target) await new Promise((r) => setTimeout(r, 50));
        if (failed) throw failed;
      },
    };
  }

  /**
   * The fake kubelet: one Ready Node; every 250 ms, pods not yet scheduled are bound to it, bound
   * pods are reported Running with every container ready, and pods being deleted are removed; a
   * claim waiting for a volume gets a hostPath PersistentVolume bound to it (the binder binds them).
   */
  private async startKubelet(): Promise<void> {
    const created = await this.api("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux" } },
    });
    if (created.status !== 201) throw new Error(`creating the Node: ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
    const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const nodeStatus = async () =>
      this.api(
        "PATCH",
        `/api/v1/nodes/${NODE}/status`,
        {
          status: {
            conditions: [
              { type: "Ready", status: "True", reason: "KubeletReady", message: "fake kubelet", lastHeartbeatTime: now(), lastTransitionTime: now() },
            ],
            capacity: { cpu: "8", memory: "32Gi", pods: "220" },
            allocatable: { cpu: "8", memory: "32Gi", pods: "220" },
            addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
          },
        },
        "application/merge-patch+json",
      );
    await nodeStatus();
    let podIp = 10;
    const provision = async () => {
      const claims = await this.api<{ items: Record<string, any>[] }>("GET", "/api/v1/persistentvolumeclaims");
      for (const c of claims.body.items ?? []) {
        if (c.spec.volumeName || c.status?.phase !== "Pending") continue;
        const { name, namespace, uid } = c.metadata;
        await this.api("POST", "/api/v1/persistentvolumes", {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: `pv-${uid}` },
          spec: {
            capacity: { storage: c.spec.resources.requests.storage },
            accessModes: c.spec.accessModes,
            storageClassName: c.spec.storageClassName ?? "",
            persistentVolumeReclaimPolicy: "Retain",
            hostPath: { path: path.join(this.dir, "volumes", uid) },
            claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace, name, uid },
          },
        });
      }
    };
    const tick = async () => {
      await provision();
      const pods = await this.api<{ items: Record<string, any>[] }>("GET", "/api/v1/pods");
      if (pods.status !== 200) return;
      for (const pod of pods.body.items ?? []) {
        const { name, namespace } = pod.metadata;
        const base = `/api/v1/namespaces/${namespace}/pods/${name}`;
        if (pod.metadata.deletionTimestamp) {
          await this.api("DELETE", base, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 });
        } else if (!pod.spec.nodeName) {
          await this.api("POST", `${base}/binding`, {
            apiVersion: "v1",
            kind: "Binding",
            metadata: { name, namespace },
            target: { apiVersion: "v1", kind: "Node", name: NODE },
          });
        } else if (pod.status?.phase !== "Running") {
          const t = now();
          const ready = (type: string) => ({ type, status: "True", lastTransitionTime: t });
          await this.api(
            "PATCH",
            `${base}/status`,
            {
              status: {
                phase: "Running",
                hostIP: "127.0.0.1",
                podIP: `10.244.0.${(podIp++ % 250) + 2}`,
                startTime: t,
                conditions: [ready("PodScheduled"), ready("Initialized"), ready("ContainersReady"), ready("Ready")],
                containerStatuses: (pod.spec.containers as { name: string; image: string }[]).map((c) => ({
                  name: c.name,
                  image: c.image,
                  imageID: "",
                  ready: true,
                  started: true,
                  restartCount: 0,
                  state: { running: { startedAt: t } },
                })),
              },
            },
            "application/merge-patch+json",
          );
        }
      }
    };
    let beats = 0;
    this.kubelet = setInterval(() => {
      if (this.kubeletBusy) return;
      this.kubeletBusy = true;
      void (async () => {
        try {
          await tick();
          if (++beats % 40 === 0) await nodeStatus();
        } catch {
          /* the server is going away */
        } finally {
          this.kubeletBusy = false;
        }
      })();
    }, 250);
  }

  /** Stop the kubelet and every process (by process group), and remove the folder. */
  async stop(): Promise<void> {
    if (this.kubelet) clearInterval(this.kubelet);
    for (const p of [...this.procs].reverse()) {
      if (p.exitCode !== null || p.signalCode !== null || !p.pid) continue;
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      try {
        process.kill(-p.pid, "SIGTERM");
      } catch {
        /* gone */
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-p.pid!, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The namespaces the committed rosters' pull secrets and the registry use, made by a cluster admin before the stacks run. */
const STACK_NAMESPACES = ["acme-apps", "wayne-apps", "intake-system", "registry-intake"];

/**
 * A scratch project whose Kubernetes is a local cluster of its own (ESO's CRDs installed, the
 * namespaces made) with the real provider, or the local stand-in where the Kubernetes parts are
 * not built (`why` says so). `stop()` removes the project and stops the cluster.
 */
export async function projectOnCluster(namespaces: string[] = STACK_NAMESPACES): Promise<{ p: EngineProject; cluster?: LocalCluster; stop(): Promise<void> }> {
  let cluster: LocalCluster | undefined;
  if (!kubeUnavailable()) {
    cluster = await LocalCluster.start();
    try {
      await cluster.installEsoCrds();
      await cluster.createNamespaces(namespaces);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }
  const p = new EngineProject(cluster ? { cluster: { kubeconfig: cluster.kubeconfig, binDir: kubeBinDir() } } : {});
  return {
    p,
    cluster,
    async stop() {
      p.remove();
      await cluster?.stop();
    },
  };
}
