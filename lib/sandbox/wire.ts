import { escapeUTF8 } from "entities";
import type { Session, StoredMsg } from "./session";
import type { Account, Group, Person, World } from "./world";

/** Wire shapes: contacts, members and AddMsgList entries as the real server writes them. */

const EMOJI_SPAN = /<span class="emoji emoji[0-9a-f]+"><\/span>/g;
/** What `escapeUTF8` rewrites (an emoji span holds some of them too): without any, a string goes out as it is. */
const NEEDS_ESCAPE = /[&<>"']/;

/** HTML-escape a raw name or text, keeping emoji spans as they are (the server sends them as markup). */
export function escapeWire(raw: string): string {
  if (!NEEDS_ESCAPE.test(raw)) return raw;
  let out = "";
  let last = 0;
  for (const m of raw.matchAll(EMOJI_SPAN)) {
    out += escapeUTF8(raw.slice(last, m.index));
    out += m[0];
    last = (m.index ?? 0) + m[0].length;
  }
  return out + escapeUTF8(raw.slice(last));
}

/** A name on the wire: escaped, or as it is for an entity whose name the server sends raw. */
export function nameOnWire(raw: string, rawWire: boolean | undefined): string {
  return rawWire ? raw : escapeWire(raw);
}

/** Plain text as message Content: escaped, newlines as <br/>. */
export function textContent(text: string): string {
  return escapeWire(text).replace(/\r?\n/g, "<br/>");
}

/** The fields of a location message (MsgType 1, SubMsgType 48, the XML in OriContent), injected or forwarded. */
export function locationFields(msgId: string, label: string, lat: number, lng: number): Record<string, unknown> {
  const ori = `<?xml version="1.0"?>\n<msg>\n\t<location x="${lat}" y="${lng}" scale="16" label="${escapeWire(label)}" maptype="0" poiname="${escapeWire(label)}" />\n</msg>`;
  return {
    Content: `${escapeWire(label)}:<br/>/cgi-bin/mmwebwx-bin/webwxgetpubliclinkimg?url=xxx&amp;msgid=${msgId}&amp;pictype=location`,
    SubMsgType: 48,
    Url: `https://apis.map.qq.com/uri/v1/geocoder?coord=${lat},${lng}`,
    OriContent: escapeWire(ori),
  };
}

export class WireView {
  constructor(
    readonly world: World,
    readonly session: Session,
  ) {}

  get account(): Account {
    return this.session.account;
  }

  userName = (id: string): string => {
    const group = this.world.groups.get(id);
    if (group) return this.session.userNameOf(id, undefined, true);
    const person = this.world.person(id);
    return this.session.userNameOf(id, person?.fixedUserName);
  };

  encryChatRoomId(group: Group): string {
    return this.session.userNameOf(`enc:${group.id}`);
  }

  headImg(id: string): string {
    const group = this.world.groups.get(id);
    const path = group ? "webwxgetheadimg" : "webwxgeticon";
    return `/cgi-bin/mmwebwx-bin/${path}?seq=${id.length * 7919}&username=${this.userName(id)}&skey=${this.session.skey}`;
  }

  contact(id: string, withMembers: boolean): Record<string, unknown> {
    const group = this.world.groups.get(id);
    if (group) return this.group(group, withMembers);
    const person = this.world.person(id) as Person;
    const meta = this.account.friends.get(id);
    const isFriend = meta !== undefined;
    const contactFlag = person.kind === "special" ? 3 : isFriend ? (meta.starred ? 67 : 3) : 0;
    return {
      Uin: 0,
      UserName: this.userName(id),
      NickName: nameOnWire(person.nickName, person.rawWire),
      HeadImgUrl: this.headImg(id),
      ContactFlag: contactFlag,
      MemberCount: 0,
      MemberList: [],
      RemarkName: escapeWire(meta?.remarkName ?? ""),
      HideInputBarFlag: 0,
      Sex: person.sex,
      Signature: escapeWire(person.signature),
      VerifyFlag: person.verifyFlag,
      OwnerUin: 0,
      PYInitial: "",
      PYQuanPin: "",
      RemarkPYInitial: "",
      RemarkPYQuanPin: "",
      StarFriend: meta?.starred ? 1 : 0,
      AppAccountFlag: 0,
      Statues: 0,
      AttrStatus: person.kind === "person" ? 33656933 : 0,
      Province: person.province,
      City: person.city,
      Alias: person.alias,
      SnsFlag: person.kind === "person" ? 17 : 0,
      UniFriend: 0,
      DisplayName: "",
      ChatRoomId: 0,
      KeyWord: person.fixedUserName ?? "",
      EncryChatRoomId: "",
      IsOwner: 0,
    };
  }

  member(group: Group, personId: string): Record<string, unknown> {
    const person = this.world.person(personId) as Person;
    return {
      Uin: 0,
      UserName: this.userName(personId),
      NickName: nameOnWire(person.nickName, person.rawWire),
      AttrStatus: 2147584103,
      PYInitial: "",
      PYQuanPin: "",
      RemarkPYInitial: "",
      RemarkPYQuanPin: "",
      MemberStatus: 0,
      DisplayName: escapeWire(group.displayNames.get(personId) ?? ""),
      KeyWord: "",
    };
  }

  group(group: Group, withMembers: boolean): Record<string, unknown> {
    return {
      Uin: 0,
      UserName: this.userName(group.id),
      NickName: nameOnWire(group.topic, group.rawWire),
      HeadImgUrl: this.headImg(group.id),
      ContactFlag: 3,
      MemberCount: withMembers ? group.members.length : 0,
      MemberList: withMembers ? group.members.map((m) => this.member(group, m)) : [],
      RemarkName: "",
      HideInputBarFlag: 0,
      Sex: 0,
      Signature: "",
      VerifyFlag: 0,
      OwnerUin: 0,
      PYInitial: "",
      PYQuanPin: "",
      RemarkPYInitial: "",
      RemarkPYQuanPin: "",
      StarFriend: this.account.pinnedGroups.has(group.id) ? 1 : 0,
      AppAccountFlag: 0,
      Statues: 1,
      AttrStatus: 0,
      Province: "",
      City: "",
      Alias: "",
      SnsFlag: 0,
      UniFriend: 0,
      DisplayName: "",
      ChatRoomId: 0,
      KeyWord: "",
      EncryChatRoomId: withMembers ? this.encryChatRoomId(group) : "",
      IsOwner: group.ownerId === this.account.personId ? 1 : 0,
    };
  }

  self(): Record<string, unknown> {
    const person = this.world.person(this.account.personId) as Person;
    return {
      Uin: this.account.uin,
      UserName: this.userName(person.id),
      NickName: escapeWire(person.nickName),
      HeadImgUrl: this.headImg(person.id),
      RemarkName: "",
      PYInitial: "",
      PYQuanPin: "",
      RemarkPYInitial: "",
      RemarkPYQuanPin: "",
      HideInputBarFlag: 0,
      StarFriend: 0,
      Sex: person.sex,
      Signature: "",
      AppAccountFlag: 0,
      VerifyFlag: 0,
      ContactFlag: 0,
      WebWxPluginSwitch: 0,
      HeadImgFlag: 1,
      SnsFlag: 17,
    };
  }

  message(msg: StoredMsg): Record<string, unknown> {
    const built = msg.build(this.userName);
    const selfId = this.account.personId;
    let from: string;
    let to: string;
    let content = typeof built.Content === "string" ? built.Content : "";
    if (msg.room) {
      if (msg.from === selfId) {
        from = this.userName(selfId);
        to = this.userName(msg.room);
      } else {
        from = this.userName(msg.room);
        to = this.userName(selfId);
        if (msg.msgType !== 10000 && msg.msgType !== 10002) content = `${this.userName(msg.from)}:<br/>${content}`; // the member UserName itself starts with @
      }
    } else {
      from = this.userName(msg.from);
      to = this.userName(msg.to);
    }
    return {
      MsgId: msg.msgId,
      FromUserName: from,
      ToUserName: to,
      MsgType: msg.msgType,
      Status: 3,
      ImgStatus: 1,
      CreateTime: msg.time,
      VoiceLength: 0,
      PlayLength: 0,
      FileName: "",
      FileSize: "",
      MediaId: "",
      Url: "",
      AppMsgType: 0,
      StatusNotifyCode: 0,
      StatusNotifyUserName: "",
      RecommendInfo: { UserName: "", NickName: "", QQNum: 0, Province: "", City: "", Content: "", Signature: "", Alias: "", Scene: 0, VerifyFlag: 0, AttrStatus: 0, Sex: 0, Ticket: "", OpCode: 0 },
      ForwardFlag: 0,
      AppInfo: { AppID: "", Type: 0 },
      HasProductId: 0,
      Ticket: "",
      ImgHeight: 0,
      ImgWidth: 0,
      SubMsgType: 0,
      // A JSON number on the wire, 19 digits: beyond 2^53 (docs/protocol.md sections 5 and 9); MsgId is a string.
      NewMsgId: BigInt(msg.msgId),
      OriContent: "",
      EncryFileName: "",
      ...built,
      ...{ Content: content },
    };
  }
}
