// Start Portkey's gateway (its own start-server.js) listening on loopback only: its command line
// takes a port but no host, and @hono/node-server would otherwise listen on every interface.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    const callback = args.find((arg) => typeof arg === "function");
    return listen.call(this, { port: args[0], host: "127.0.0.1" }, callback);
  }
  if (args[0] && typeof args[0] === "object" && !args[0].path) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};

await import("@portkey-ai/gateway/build/start-server.js");
