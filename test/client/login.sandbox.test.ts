import { strict as assert } from "node:assert";
import { envPerTest, loginByQr, stateNames, uuidOf, waitForState } from "./env";

describe("client login against the sandbox", function () {
  this.timeout(20_000);
  const startEnv = envPerTest();

  it("logs in by QR in desktop mode and loads contacts with paging and groups with members", async () => {
    const env = await startEnv({ contacts: 30, groups: 55, contactPageSize: 10 });
    const { client, rec } = env.newClient();
    const online = await loginByQr(env, client);
    assert.equal(online.user?.nickName, env.sb.control.world().accounts[0]!.nickName);
    assert.ok(online.user?.userName.startsWith("@"));
    const logins = env.sb.control.logins();
    assert.equal(logins[0]!.desktop, true, "jslogin asked for the desktop redirect");
    assert.deepEqual(
      stateNames(rec),
      ["waiting-scan", "logging-in", "online"],
    );
    const qr = rec.states[0]!;
    assert.match(qr.qr ?? "", /^data:image\/png;base64,/);
    assert.match(qr.qrUrl ?? "", /^https:\/\/login\.weixin\.qq\.com\/l\/.+/);
    const world = env.sb.control.world();
    const friends = client.listContacts({ kind: "friend" });
    const groups = client.listContacts({ kind: "group" });
    assert.equal(groups.length, world.counts.groups);
    assert.ok(friends.length >= world.counts.friends - 1, `friends ${friends.length} of ${world.counts.friends}`);
    assert.ok(rec.calls.filter((c) => c === "webwxgetcontact").length >= 3, "contacts were paged");
    assert.equal(rec.calls.filter((c) => c === "webwxbatchgetcontact").length, 2, "groups fetched 50 at a time");
    for (const group of groups) {
      assert.ok((group.members?.length ?? 0) > 0, `group ${group.displayName} has members`);
    }
    const someFriend = world.contacts.find((c) => c.kind === "friend" && c.remarkName === "");
    if (someFriend) assert.equal(client.resolve(someFriend.nickName).kind, "friend");
  });

  it("with qrImage false, waiting-scan carries only the QR text (the application draws it)", async () => {
    const env = await startEnv({ contacts: 5, groups: 1 });
    const { client, rec } = env.newClient({ qrImage: false });
    await loginByQr(env, client);
    const waiting = rec.states.find((s) => s.state === "waiting-scan");
    assert.ok(waiting, "a waiting-scan state was seen");
    assert.equal(waiting.qr, undefined);
    assert.match(waiting.qrUrl ?? "", /^https:\/\/login\.weixin\.qq\.com\/l\/.+/);
  });

  it("with requireDesktop, web mode is refused with 1203 and the server's message", async () => {
    const env = await startEnv({ requireDesktop: true });
    const { client, rec } = env.newClient({ mode: "web" });
    client.start();
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan");
    env.sb.control.scan({ uuid: uuidOf(waiting) });
    const refused = await waitForState(client, (s) => s.state === "refused");
    assert.equal(refused.code, 1203);
    assert.match(refused.message ?? "", /1203/);
    assert.match(refused.message ?? "", /网页微信/, "the server's own message is carried");
    assert.equal(env.sb.control.logins()[0]!.desktop, false);
    // Refused stays refused: no further login calls until the user acts.
    const calls = rec.calls.length;
    await client.stop();
    assert.equal(rec.calls.length, calls);
    assert.equal(client.state.state, "offline");
  });

  it("desktop mode passes requireDesktop", async () => {
    const env = await startEnv({ requireDesktop: true });
    const { client } = env.newClient({ mode: "desktop" });
    const online = await loginByQr(env, client);
    assert.equal(online.state, "online");
  });

  it("offers a fresh QR when the first one expires or is cancelled, and newQr() makes another", async () => {
    const env = await startEnv();
    const { client, rec } = env.newClient();
    client.start();
    const first = await waitForState(client, (s) => s.state === "waiting-scan");
    env.sb.control.expireQr({ uuid: uuidOf(first) });
    const second = await waitForState(client, (s) => s.state === "waiting-scan" && s.qrUrl !== first.qrUrl);
    env.sb.control.scanOnly({ uuid: uuidOf(second) });
    const scanned = await waitForState(client, (s) => s.state === "scanned");
    assert.match(scanned.avatar ?? "", /^data:img\/jpg;base64,/);
    env.sb.control.cancel({ uuid: uuidOf(second) });
    const third = await waitForState(client, (s) => s.state === "waiting-scan" && s.qrUrl !== second.qrUrl);
    client.newQr();
    const fourth = await waitForState(client, (s) => s.state === "waiting-scan" && s.qrUrl !== third.qrUrl);
    env.sb.control.scan({ uuid: uuidOf(fourth) });
    await waitForState(client, (s) => s.state === "online");
    assert.equal(new Set(rec.states.filter((s) => s.state === "waiting-scan").map((s) => s.qrUrl)).size, 4);
  });

  it("stop() during a held login poll returns at once and leaves nothing running", async () => {
    const env = await startEnv({ longPollMs: 10_000 });
    const { client, rec } = env.newClient({ tuning: { timeouts: { loginPollMs: 15_000 } } });
    client.start();
    await waitForState(client, (s) => s.state === "waiting-scan");
    const started = Date.now();
    await client.stop();
    assert.ok(Date.now() - started < 1_000, "stop() does not wait for the long poll");
    assert.equal(client.state.state, "offline");
    const calls = rec.calls.length;
    client.start();
    await waitForState(client, (s) => s.state === "waiting-scan" && rec.calls.length > calls);
    await client.stop();
  });
});
