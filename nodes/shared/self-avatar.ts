import type { WeChatClientApi } from "../../lib/wechat/types";
import { sniffImage } from "../../lib/wechat/util";

/**
 * The logged-in user's own avatar as a data: URL, for the editor (the account dialog and the accounts sidebar ask on
 * every state change): downloaded once per login (the self UserName changes with each), kept per account.
 */
export class SelfAvatars {
  private readonly cache = new WeakMap<object, { userName: string; url: Promise<string> }>();

  get(account: object, client: Pick<WeChatClientApi, "avatar">, userName: string): Promise<string> {
    const hit = this.cache.get(account);
    if (hit && hit.userName === userName) return hit.url;
    const url = client.avatar(userName).then((data) => `data:${sniffImage(data)?.mime ?? "image/jpeg"};base64,${data.toString("base64")}`);
    this.cache.set(account, { userName, url });
    // a failure is not kept: the next ask tries again
    url.catch(() => {
      if (this.cache.get(account)?.url === url) this.cache.delete(account);
    });
    return url;
  }
}
