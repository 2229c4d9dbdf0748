import { strict as assert } from "node:assert";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SessionStore, type SavedSession } from "../../lib/wechat/session-store";
import { countingScrypt } from "../support/scrypt";
import { sampleSession } from "../support/session";

const sample = (): SavedSession => sampleSession();
describe("client session store", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wxflow-session-"));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("round-trips, encrypted, mode 0600, no temp files left", async () => {
    const file = path.join(dir, "sub", "s.json");
    const store = new SessionStore(file, "secret one");
    await store.save(sample());
    const text = await fs.readFile(file, "utf8");
    for (const secret of ["SIDSECRETVALUE", "SKEYSECRET", "qg%2BL", "e123456789012345"]) {
      assert.ok(!text.includes(secret), `file holds ${secret} in clear`);
    }
    const stat = await fs.stat(file);
    assert.equal(stat.mode & 0o777, 0o600);
    assert.deepEqual(await store.load(), sample());
    assert.deepEqual(await fs.readdir(path.dirname(file)), ["s.json"]);
  });

  it("makes the directory on the first save only, and again when it was removed (#19)", async () => {
    const file = path.join(dir, "deeper", "acc.session");
    const store = new SessionStore(file, "secret");
    const made: string[] = [];
    const mkdir = fs.mkdir;
    fs.mkdir = ((target: string, options?: unknown) => {
      made.push(target);
      return mkdir(target, options as Parameters<typeof mkdir>[1]);
    }) as typeof fs.mkdir;
    try {
      for (let i = 0; i < 5; i++) await store.save({ ...sample(), savedAt: i });
      assert.equal(made.length, 1, "one mkdir for five saves");
      await fs.rm(path.dirname(file), { recursive: true });
      await store.save({ ...sample(), savedAt: 9 });
      assert.equal((await store.load())?.savedAt, 9);
    } finally {
      fs.mkdir = mkdir;
    }
  });

  it("prepare() derives the sealing key ahead of the first save, which then waits for no scrypt (#19)", async () => {
    const store = new SessionStore(path.join(dir, "p.session"), "secret");
    await countingScrypt(async (derivations) => {
      await store.prepare();
      assert.equal(derivations(), 1, "started before any save");
      await store.save(sample());
      await store.save({ ...sample(), savedAt: 2 });
      assert.equal(derivations(), 1, "the saves sealed with the prepared key");
    });
    assert.equal((await store.load())?.savedAt, 2);
  });

  it("resuming a saved session derives one key: the file's salt opens it and seals the next saves", async () => {
    const file = path.join(dir, "r.session");
    await new SessionStore(file, "secret").save(sample());
    const store = new SessionStore(file, "secret");
    await countingScrypt(async (derivations) => {
      await store.prepare();
      assert.deepEqual(await store.load(), sample());
      await store.save({ ...sample(), savedAt: 3 });
      assert.equal(derivations(), 1, "one scrypt for the load and the save (two before: a new salt for the saves)");
    });
    // still a file any store with the secret opens, and only with it
    assert.equal((await new SessionStore(file, "secret").load())?.savedAt, 3);
    assert.equal(await new SessionStore(file, "another").load(), undefined);
  });

  it("the last of concurrent saves wins, written atomically", async () => {
    const file = path.join(dir, "s.json");
    const store = new SessionStore(file, "k");
    const saves = [];
    for (let i = 0; i < 5; i++) saves.push(store.save({ ...sample(), savedAt: i }));
    await Promise.all(saves);
    assert.equal((await store.load())?.savedAt, 4);
    assert.deepEqual(await fs.readdir(dir), ["s.json"]);
  });

  it("migrates: a file under a previous secret is read once and re-written under the new one", async () => {
    const file = path.join(dir, "s.json");
    await new SessionStore(file, "old key from the user dir").save(sample());
    const infos: string[] = [];
    const warnings: string[] = [];
    const store = new SessionStore(file, "new key from outside", { previous: ["old key from the user dir"], info: (m) => infos.push(m), warn: (m) => warnings.push(m) });
    assert.deepEqual(await store.load(), sample());
    assert.equal(infos.length, 1, "the migration is said once");
    assert.deepEqual(warnings, []);
    // From now on only the new key opens it: a copy of the user dir (the old key) no longer decrypts it.
    assert.equal(await new SessionStore(file, "old key from the user dir").load(), undefined);
    assert.deepEqual(await new SessionStore(file, "new key from outside").load(), sample());
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    // Read again: already under the new key, nothing more to migrate.
    assert.deepEqual(await store.load(), sample());
    assert.equal(infos.length, 1);
  });

  it("ignores a tampered file, a foreign secret, garbage and a missing file with a warning", async () => {
    const file = path.join(dir, "s.json");
    const warnings: string[] = [];
    const store = new SessionStore(file, "right", (m) => warnings.push(m));
    assert.equal(await store.load(), undefined);
    assert.equal(warnings.length, 0, "a missing file is not worth a warning");
    await store.save(sample());
    const envelope = JSON.parse(await fs.readFile(file, "utf8")) as { data: string };
    const bytes = Buffer.from(envelope.data, "base64");
    bytes[3] ^= 1;
    await fs.writeFile(file, JSON.stringify({ ...envelope, data: bytes.toString("base64") }));
    assert.equal(await store.load(), undefined);
    assert.equal(warnings.length, 1);
    await store.save(sample());
    assert.equal(await new SessionStore(file, "wrong", (m) => warnings.push(m)).load(), undefined);
    assert.equal(warnings.length, 2);
    await fs.writeFile(file, "not json at all");
    assert.equal(await store.load(), undefined);
    assert.equal(warnings.length, 3);
    for (const w of warnings) assert.ok(!w.includes("SIDSECRET"));
    await store.clear();
    await assert.rejects(fs.stat(file));
  });
});
