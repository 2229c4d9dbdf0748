"use strict";
// npm start's ports: the one the environment names, else the first free one from the usual port on (#16.6).
const net = require("net");

/** Resolves true when nothing listens on 127.0.0.1:port (a listen that succeeds is closed at once). */
function isFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The port to use: env[envName] as it is, else the first free one of `preferred` and the 19 after it (never
 * `avoid`), said on the console when it is not `preferred`. Rejects when none is free.
 * @param {string} envName @param {number} preferred @param {number | undefined} avoid
 * @param {{ env?: Record<string, string | undefined>, log?: (line: string) => void }} [options]
 */
async function choosePort(envName, preferred, avoid, options = {}) {
  const env = options.env || process.env;
  const log = options.log || console.log;
  const given = env[envName];
  if (given) return Number(given);
  for (let port = preferred; port < preferred + 20; port += 1) {
    if (port !== avoid && (await isFree(port))) {
      if (port !== preferred) log(`npm start: port ${preferred} is taken; using ${port} (set ${envName}= to choose)`);
      return port;
    }
  }
  throw new Error(`no free port from ${preferred} to ${preferred + 19}; set ${envName}= to one`);
}

module.exports = { choosePort, isFree };
