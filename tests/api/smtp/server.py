"""A local SMTP server for the mail tests (aiosmtpd).

Listens on 127.0.0.1 at a free port and prints that port on its first line of output. Each
accepted message is written to OUTDIR as one JSON file ({"mail_from", "rcpt_tos", "data",
and as the standard library's MIME parser reads it: "headers", "content_type" and "parts"
with each leaf part's "content_type" and decoded "content"}),
written whole then renamed, so a reader never sees half a message. A recipient whose local
part starts with "reject" is refused with 550 (a permanent failure) and the refusal is
written to OUTDIR as a "refused-*.json" file. The server stops when its standard input
closes, so it never outlives the test that started it.
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import sys

from aiosmtpd.smtp import SMTP

counter = itertools.count()


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir

    def _write(self, prefix, record):
        n = next(counter)
        tmp = os.path.join(self.outdir, f".{prefix}-{n}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.outdir, f"{prefix}-{n}.json"))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].startswith("reject"):
            self._write("refused", {"rcpt": address})
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self._write(
            "message",
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                "headers": {k.lower(): str(v) for k, v in message.items()},
                "content_type": message.get_content_type(),
                "parts": [
                    {"content_type": part.get_content_type(), "content": part.get_content()}
                    for part in message.walk()
                    if not part.is_multipart()
                ],
            },
        )
        return "250 Message accepted for delivery"


def main():
    outdir = sys.argv[1]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(outdir)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler), host="127.0.0.1", port=0)
    )
    print(server.sockets[0].getsockname()[1], flush=True)

    def stdin_closed():
        if not sys.stdin.buffer.read1(4096):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), stdin_closed)
    loop.run_forever()


if __name__ == "__main__":
    main()
