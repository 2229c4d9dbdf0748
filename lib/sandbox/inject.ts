import { createHash, randomBytes } from "node:crypto";
import { TINY_PNG } from "./login";
import { cdnRef, registerRef } from "./forward";
import { fileMsgFields, imageContent, stickerContent, videoContent } from "./media";
import type { StoredMsg } from "./session";
import type { SandboxState } from "./state";
import { SandboxError, type InjectRequest } from "./types";
import { plainName, type Account } from "./world";
import { escapeWire, locationFields, textContent } from "./wire";

/** The phone side: turn a control request into a message queued for an account. */

const SAMPLE_MP3 = Buffer.concat([Buffer.from("ID3\x03\x00\x00\x00\x00\x00\x00", "latin1"), Buffer.alloc(2048, 0x55)]);
const SAMPLE_GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
function sampleMp4(): Buffer {
  const head = Buffer.from("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "latin1");
  const body = Buffer.alloc(64 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  return Buffer.concat([head, body]);
}

function bytes(req: InjectRequest, fallback: () => Buffer): Buffer {
  if (req.data === undefined) return fallback();
  if (typeof req.data !== "string" || !/^[A-Za-z0-9+/=\s]*$/.test(req.data)) throw new SandboxError("INVALID_ARGUMENT", "data must be base64");
  return Buffer.from(req.data, "base64");
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "") throw new SandboxError("INVALID_ARGUMENT", `${name} is required`);
  return value;
}

/** Sender, group and receiver entities of an injected message (resolved once for bulk injection). */
export interface Resolved {
  from: string;
  room?: string;
  to: string;
}

export function resolveSender(state: SandboxState, account: Account, req: InjectRequest): Resolved {
  const world = state.world;
  const selfRaw = world.person(account.personId)?.nickName ?? "";
  const fromSelf = req.from === "self" || req.from === selfRaw || req.from === plainName(selfRaw);
  if (req.room !== undefined) {
    const room = state.resolveGroup(account, req.room);
    return { room, from: fromSelf ? account.personId : state.resolveMember(account, room, req.from), to: account.personId };
  }
  if (fromSelf) {
    // written on the phone by the account itself: From = self, To = the chat
    const chat = state.resolveContact(account, requireString(req.to, "to"), true);
    return world.groups.has(chat) ? { from: account.personId, room: chat, to: account.personId } : { from: account.personId, to: chat };
  }
  return { from: state.resolveContact(account, req.from), to: account.personId };
}

export function inject(state: SandboxState, req: InjectRequest, resolved?: Resolved): { msgId: string } {
  const account = state.account(req.account);
  const type = req.type ?? "text";
  const msgId = state.newMsgId();
  const time = Math.floor(Date.now() / 1000);
  const world = state.world;
  requireString(req.from, "from");

  if (type === "friend-request") {
    const existing = [...world.persons.values()].find((p) => p.kind === "person" && plainName(p.nickName) === plainName(req.from) && !account.friends.has(p.id) && !world.accountOfPerson(p.id));
    const person = existing ?? world.addPerson({ nickName: req.from });
    const ticket = `v4_${randomBytes(24).toString("hex")}@stranger`;
    state.friendRequests.set(ticket, { personId: person.id, account: account.index });
    const fmessage = [...account.friends.keys()].find((id) => world.person(id)?.fixedUserName === "fmessage") as string;
    const greeting = req.text ?? "";
    const msg: StoredMsg = {
      msgId,
      msgType: 37,
      from: fmessage,
      to: account.personId,
      time,
      build: (userName) => ({
        Content: escapeWire(`<msg fromusername="wxid_${person.id}" encryptusername="v1_${person.id}@stranger" fromnickname="${escapeWire(person.nickName)}" content="${escapeWire(greeting)}" scene="30" ticket="${ticket}" opcode="2" sex="${person.sex}" />`),
        RecommendInfo: { UserName: userName(person.id), NickName: escapeWire(person.nickName), QQNum: 0, Province: person.province, City: person.city, Content: escapeWire(greeting), Signature: "", Alias: person.alias, Scene: 30, VerifyFlag: 0, AttrStatus: 0, Sex: person.sex, Ticket: ticket, OpCode: 2 },
        Ticket: ticket,
      }),
    };
    state.deliver(account, { kind: "msg", msg });
    return { msgId };
  }

  const { from, room, to } = resolved ?? resolveSender(state, account, req);
  const base = { msgId, from, to, time, ...(room ? { room } : {}) };
  const queue = (msgType: number, build: StoredMsg["build"], phone = false): { msgId: string } => {
    state.deliver(account, { kind: "msg", msg: { ...base, msgType, build }, ...(phone ? { phone } : {}) });
    return { msgId };
  };

  switch (type) {
    case "text": {
      let text = requireString(req.text, "text");
      if (req.mention && room) text += ` @${selfNameIn(state, account, room)}\u2005`;
      return queue(1, () => ({ Content: textContent(text) }));
    }
    case "system":
      return queue(10000, () => ({ Content: textContent(requireString(req.text, "text")) }));
    case "image": {
      const data = bytes(req, () => TINY_PNG);
      state.media.set(msgId, { data, mime: "image/png", owners: new Set([account.index]) });
      const ref = cdnRef(state, msgId);
      return queue(3, () => ({ Content: imageContent(data, ref), ImgHeight: 100, ImgWidth: 100, ImgStatus: 2 }));
    }
    case "voice": {
      const data = bytes(req, () => SAMPLE_MP3);
      const ms = req.durationMs ?? 3000;
      state.media.set(msgId, { data, mime: "audio/mpeg", owners: new Set([account.index]) });
      return queue(34, () => ({ Content: escapeWire(`<msg><voicemsg endflag="1" length="${data.length}" voicelength="${ms}" clientmsgid="" fromusername="" downcount="0" cancelflag="0" voiceformat="4" forwardflag="0" bufid="0" /></msg>`), VoiceLength: ms }));
    }
    case "video": {
      const data = bytes(req, sampleMp4);
      state.media.set(msgId, { data, mime: "video/mp4", owners: new Set([account.index]) });
      const seconds = Math.max(1, Math.round((req.durationMs ?? 5000) / 1000));
      const ref = cdnRef(state, msgId);
      return queue(43, () => ({ Content: videoContent(data, ref, seconds), PlayLength: seconds, ImgHeight: 100, ImgWidth: 100 }));
    }
    case "sticker": {
      const data = bytes(req, () => SAMPLE_GIF);
      state.media.set(msgId, { data, mime: "image/gif", owners: new Set([account.index]) });
      // A sticker is known by the md5 of its bytes; a store sticker comes without one (it cannot be forwarded).
      const md5 = req.store ? "" : registerRef(state, createHash("md5").update(data).digest("hex"), { store: "media", key: msgId });
      return queue(47, () => ({ Content: stickerContent(md5, data.length, req.store ? "com.tencent.xin.emoticon.sandbox" : ""), ImgHeight: 100, ImgWidth: 100 }));
    }
    case "file": {
      const fileName = requireString(req.fileName, "fileName");
      const data = bytes(req, () => {
        throw new SandboxError("INVALID_ARGUMENT", "data (base64) is required for a file");
      });
      const mediaId = `@crypt_${randomBytes(4).toString("hex")}_${randomBytes(48).toString("hex")}`;
      state.files.set(mediaId, { data, fileName, owners: new Set([account.index]) });
      registerRef(state, mediaId, { store: "file", key: mediaId });
      return queue(49, () => fileMsgFields(fileName, data.length, mediaId));
    }
    case "link": {
      const title = requireString(req.title, "title");
      const url = requireString(req.url, "url");
      const des = req.text ?? "";
      const appmsg = `<msg><appmsg appid="" sdkver="0"><title>${escapeWire(title)}</title><des>${escapeWire(des)}</des><action></action><type>5</type><showtype>0</showtype><content></content><url>${escapeWire(url)}</url><appattach><totallen>0</totallen><attachid></attachid><fileext></fileext></appattach><extinfo></extinfo></appmsg></msg>`;
      return queue(49, () => ({ Content: escapeWire(appmsg), AppMsgType: 5, FileName: escapeWire(title), Url: escapeWire(url) }));
    }
    case "location": {
      const label = requireString(req.label, "label");
      const lat = req.lat ?? 22.54;
      const lng = req.lng ?? 113.93;
      return queue(1, () => locationFields(msgId, label, lat, lng));
    }
    case "card": {
      const cardId = state.resolveContact(account, requireString(req.card, "card"));
      const p = world.person(cardId);
      if (!p) throw new SandboxError("NOT_FOUND", "card must name a person");
      return queue(42, (userName) => ({
        Content: escapeWire(`<?xml version="1.0"?>\n<msg bigheadimgurl="" smallheadimgurl="" username="wxid_${p.id}" nickname="${escapeWire(p.nickName)}" fullpy="" shortpy="" alias="${escapeWire(p.alias)}" imagestatus="3" scene="17" province="${p.province}" city="${p.city}" sign="" sex="${p.sex}" certflag="0" certinfo="" brandIconUrl="" brandHomeUrl="" brandSubscriptConfigUrl="" brandFlags="0" regionCode="" />`),
        RecommendInfo: { UserName: userName(p.id), NickName: escapeWire(p.nickName), QQNum: 0, Province: p.province, City: p.city, Content: "", Signature: "", Alias: p.alias, Scene: 17, VerifyFlag: p.verifyFlag, AttrStatus: 0, Sex: p.sex, Ticket: "", OpCode: 0 },
      }));
    }
    case "recall": {
      const target = requireString(req.msgId, "msgId");
      const name = plainName(world.nameFor(account, from));
      return queue(10002, (userName) => ({
        Content: escapeWire(`<sysmsg type="revokemsg"><revokemsg><session>${userName(room ?? from)}</session><oldmsgid>0</oldmsgid><msgid>${escapeWire(target)}</msgid><replacemsg><![CDATA["${name}" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>`),
      }));
    }
    case "open-chat": {
      // The phone entered a chat (StatusNotifyCode 2): From = To = self, the chat in StatusNotifyUserName.
      if (from !== account.personId) throw new SandboxError("INVALID_ARGUMENT", 'open-chat is done by the account itself: from must be "self"');
      const chat = room ?? to;
      return queue(
        51,
        (userName) => ({ ToUserName: userName(account.personId), Content: "", StatusNotifyCode: 2, StatusNotifyUserName: userName(chat) }),
        true,
      );
    }
    default:
      throw new SandboxError("INVALID_ARGUMENT", `unknown type ${String(type)}`);
  }
}

function selfNameIn(state: SandboxState, account: Account, roomId: string): string {
  const group = state.world.groups.get(roomId);
  const display = group?.displayNames.get(account.personId);
  return plainName(display || state.world.person(account.personId)?.nickName || "");
}
