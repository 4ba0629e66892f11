// The explorer's pages. Each takes the parsed route and returns {title, nodes, onHeight?};
// onHeight(height, generation) runs when the live height moves while the page is shown.
"use strict";

(() => {
  const { pages, el, href, idLink, hexText, timeCell, api, tryApi, table, kv, chips, verdict } = X;
  const PAGE = 20;
  const MEMBER_KEYS = new Set(["member_id", "owner", "grantee", "requester"]);

  function blockRows(blocks, fresh) {
    return blocks.map((b) => ({
      key: String(b.height),
      fresh: fresh && fresh.has(b.height),
      cells: [
        el("a", { href: href("block", b.height) }, String(b.height)), timeCell(b.time_ms),
        String(b.tx_count), String(b.result_count), String(b.round), String(b.proposer),
        hexText(b.hash),
      ],
    }));
  }

  function blocksTable(blocks, fresh) {
    return table(["Height", "Time", "Txs", "Decisions", "Round", "Proposer", "Hash"],
      blockRows(blocks, fresh), { num: [0, 2, 3, 4, 5] });
  }

  // Home and #/blocks?before=H: newest blocks first; the first page follows the live height.
  pages[""] = pages.blocks = async (where) => {
    const before = where.query.get("before");
    const upTo = before ? `&to=${encodeURIComponent(before)}` : "";
    const [status, list] = await Promise.all([
      api("/status"), api(`/blocks?order=desc&limit=${PAGE}${upTo}`),
    ]);
    const holder = el("div", { id: "blocks" }, blocksTable(list.blocks));
    const summary = el("div", { id: "summary" }, statusCard(status));
    const pager = (blocks) => {
      const last = blocks.length ? blocks[blocks.length - 1].height : 0;
      return el("div", { class: "pager" },
        before ? el("a", { href: "#/" }, "← newest") : null,
        last > 1 ? el("a", { href: `#/blocks?before=${last - 1}` }, "older →") : null);
    };
    const pagerHolder = el("div", {}, pager(list.blocks));
    const onHeight = before ? null : async (height, mine) => {
      const [fresh, now] = await Promise.all([
        api(`/blocks?order=desc&limit=${PAGE}`), api("/status"),
      ]);
      if (!X.current(mine)) return;
      const seen = new Set(list.blocks.map((b) => b.height));
      const added = new Set(fresh.blocks.map((b) => b.height).filter((h) => !seen.has(h)));
      list.blocks = fresh.blocks;
      holder.replaceChildren(blocksTable(fresh.blocks, added));
      summary.replaceChildren(statusCard(now));
      pagerHolder.replaceChildren(pager(fresh.blocks));
    };
    return {
      title: "blocks",
      nodes: [summary, el("h1", {}, before ? `Blocks up to ${before}` : "Latest blocks"), holder, pagerHolder],
      onHeight,
    };
  };

  function statusCard(s) {
    return kv([
      ["Chain", s.chain_id],
      ["Height", el("a", { href: href("block", s.height), id: "status-height" }, String(s.height))],
      ["Head", s.height ? idLink("block", s.head_hash) : hexText(s.head_hash)],
      ["Head time", s.height ? timeCell(s.head_time_ms) : "–"],
      ["Round", String(s.round)],
      ["Pending items", String(s.pending)],
      ["Peers", el("a", { href: "#/peers" }, `${s.peers_connected} connected`)],
      ["Syncing", s.syncing ? verdict(false, "", "catching up") : "no"],
    ]);
  }

  pages.block = async (where) => {
    const b = await api(`/blocks/${encodeURIComponent(where.args[0] || "")}`);
    const h = b.header;
    const signers = (b.commit_qc.signatures || []).map((s) => s.node_index).join(", ");
    return {
      title: `block ${b.height}`,
      nodes: [
        el("h1", {}, `Block ${b.height}`),
        el("div", { class: "pager" },
          b.height > 1 ? el("a", { href: href("block", b.height - 1) }, "← previous") : null,
          el("a", { href: href("block", b.height + 1) }, "next →")),
        kv([
          ["Hash", el("code", {}, b.hash)],
          ["Time", timeCell(h.time_ms)],
          ["Round", String(h.round)],
          ["Proposer", `node ${h.proposer}`],
          ["Previous", b.height > 1 ? idLink("block", h.prev_hash) : hexText(h.prev_hash)],
          ["State root", hexText(h.state_root)],
          ["Committed by", `nodes ${signers}`],
        ]),
        el("h2", {}, `Transactions (${b.tx_ids.length})`),
        table(["#", "Transaction"], b.tx_ids.map((id, i) => [String(i), idLink("tx", id)]), { num: [0] }),
        el("h2", {}, `Access decisions (${b.sharing_results.length})`),
        table(["Request", "Record", "Requester", "Decision", "Votes"], b.sharing_results.map((r) => [
          idLink("tx", r.request_id), idLink("record", r.record_id), idLink("member", r.requester),
          verdict(r.granted, "granted", "denied"), String((r.votes || []).length),
        ])),
      ],
    };
  };
  pages.hash = async (where) => {
    const b = await api(`/blocks/by-hash/${encodeURIComponent(where.args[0] || "")}`);
    location.replace(href("block", b.height));
    return { nodes: [] };
  };

  function fieldValue(key, value) {
    if (MEMBER_KEYS.has(key) && typeof value === "string") return idLink("member", value);
    if (key === "record_id") return idLink("record", value);
    if (key.endsWith("_ms") && typeof value === "number") return [timeCell(value), " ", el("span", { class: "muted" }, `(${value})`)];
    if (Array.isArray(value)) return value.length ? chips(value.map(String)) : el("span", { class: "muted" }, "none");
    if (typeof value === "string" && /^[0-9a-f]{80,}$/.test(value)) return el("span", { class: "id", title: `${value.length / 2} bytes` }, `${value.slice(0, 24)}… (${value.length / 2} bytes)`);
    if (typeof value === "string") return el("code", { class: "block" }, value);
    return String(value);
  }

  pages.tx = async (where) => {
    const t = await api(`/tx/${encodeURIComponent(where.args[0] || "")}`);
    const fields = Object.entries(t.tx || {}).map(([k, v]) => [k, fieldValue(k, v)]);
    const decision = t.type === "AccessRequest" ? await tryApi(`/requests/${t.tx_id}`) : null;
    return {
      title: `${t.type}`,
      nodes: [
        el("h1", {}, t.type),
        kv([
          ["Id", el("code", {}, t.tx_id)],
          ["Block", [el("a", { href: href("block", t.height) }, `${t.height}`), ` (position ${t.index})`]],
          decision ? ["Decision", [verdict(decision.status === "granted", "granted", decision.status),
            decision.reason ? ` (${decision.reason})` : ""]] : null,
        ]),
        el("h2", {}, "Fields"),
        kv(fields),
      ],
    };
  };

  pages.record = async (where) => {
    const id = encodeURIComponent(where.args[0] || "");
    const [r, grants, access, storage, audit] = await Promise.all([
      api(`/records/${id}`), api(`/records/${id}/grants`), api(`/records/${id}/accesses`),
      api(`/records/${id}/fragments`), api(`/audit?record=${id}&limit=100`),
    ]);
    const counts = new Map(access.accesses.map((a) => [a.requester, a.count]));
    const held = storage.held_here.map((f) => `#${f.index} (${f.size} bytes)`).join(", ");
    return {
      title: "record",
      nodes: [
        el("h1", {}, "Record ", el("span", { class: "id" }, r.record_id)),
        kv([
          ["Owner", idLink("member", r.owner)],
          ["Policy", r.policy ? el("code", { class: "block", id: "policy" }, r.policy) : el("span", { class: "muted" }, "none (grant only)")],
          ["Access limit", `${r.access_limit} per requester`],
          ["Accesses", `${access.total} granted so far`],
          ["Created", timeCell(r.created_at_ms)],
          ["Committed", [el("a", { href: href("block", r.height) }, `block ${r.height}`), " in ", idLink("tx", r.tx_id)]],
          ["Keywords hash", hexText(r.keywords_hash)],
          ["Fragments", storage.total ? `${storage.threshold} of ${storage.total} rebuild ${storage.length} bytes` : "no bulk data"],
          ["Held by this node", held || el("span", { class: "muted" }, "none")],
        ]),
        el("h2", {}, `Grants (${grants.grants.length})`),
        table(["Grantee", "State", "Threshold", "Expires", "Accesses", "Block"], grants.grants.map((g) => [
          idLink("member", g.grantee), verdict(!g.revoked, "active", "revoked"),
          g.threshold === null ? "–" : String(g.threshold), g.expiry ? timeCell(g.expiry) : "–",
          String(counts.get(g.grantee) || 0), el("a", { href: href("block", g.height) }, String(g.height)),
        ]), { num: [4] }),
        el("h2", {}, "Sharing audit"),
        el("p", {}, el("a", { href: `#/audit?record=${id}` }, "Open in the audit chain →")),
        auditTable(audit.audit),
      ],
    };
  };

  function auditTable(entries) {
    return table(["Seq", "Block", "Decision", "Record", "Requester", "Request", "Votes", "Prev → hash"],
      entries.map((a) => ({
        key: String(a.seq),
        cells: [
          String(a.seq), el("a", { href: href("block", a.height) }, String(a.height)),
          verdict(a.decision !== "denied", a.decision, "denied"), idLink("record", a.record_id),
          idLink("member", a.requester), idLink("tx", a.request_id), `${a.approvals}✓ ${a.denials}✗`,
          [hexText(a.prev_hash), " → ", hexText(a.hash)],
        ],
      })), { num: [0, 1] });
  }

  pages.audit = async (where) => {
    const q = where.query;
    const params = new URLSearchParams();
    for (const key of ["record", "requester", "from", "to"]) {
      const value = (q.get(key) || "").trim();
      if (value) params.set(key, value);
    }
    params.set("limit", "200");
    const found = await api(`/audit?${params}`);
    const input = (name, label, hint) => el("label", {}, label,
      el("input", { name, value: q.get(name) || "", placeholder: hint, autocomplete: "off", spellcheck: "false" }));
    const form = el("form", { id: "audit-filter" },
      input("record", "Record id", "64 hex"), input("requester", "Requester id", "64 hex"),
      input("from", "From height", "1"), input("to", "To height", "head"),
      el("button", { type: "submit" }, "Filter"), el("a", { href: "#/audit" }, "clear"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      for (const [key, value] of new FormData(form)) if (String(value).trim()) next.set(key, String(value).trim());
      location.hash = `#/audit?${next}`;
    });
    const note = q.get("record") || q.get("requester") ? "Filtered by id; the height range applies to unfiltered views." : "Every access decision, oldest first; each entry's prev hash is the hash of the one before it.";
    return {
      title: "audit chain",
      nodes: [el("h1", {}, "Sharing-audit chain"), form, el("p", { class: "muted" }, note), auditTable(found.audit)],
    };
  };

  pages.member = async (where) => {
    const id = encodeURIComponent(where.args[0] || "");
    const [m, chain, records, audit] = await Promise.all([
      api(`/members/${id}`), api(`/members/${id}/attributes`),
      api(`/records?owner=${id}&limit=100`), api(`/audit?requester=${id}&limit=100`),
    ]);
    return {
      title: "member",
      nodes: [
        el("h1", {}, "Member ", el("span", { class: "id" }, m.member_id)),
        kv([
          ["Role", m.role],
          ["Attributes", el("span", { id: "attributes" }, chips(m.attributes))],
          ["Registered", el("a", { href: href("block", m.registered_height) }, `block ${m.registered_height}`)],
          ["Key version", String(m.key_version)],
          ["Blacklisted", m.blacklisted ? verdict(false, "", "yes") : "no"],
        ]),
        el("h2", {}, "Attribute-change chain"),
        table(["Seq", "Block", "Attributes", "Reason", "Prev → hash"], chain.history.map((a) => [
          String(a.seq), el("a", { href: href("block", a.height) }, String(a.height)), chips(a.attributes),
          a.reason, [hexText(a.prev_hash), " → ", hexText(a.hash)],
        ]), { num: [0, 1] }),
        el("h2", {}, `Records owned (${records.records.length})`),
        table(["Record", "Policy", "Limit", "Block"], records.records.map((r) => [
          idLink("record", r.record_id), r.policy || "–", String(r.access_limit),
          el("a", { href: href("block", r.height) }, String(r.height)),
        ])),
        el("h2", {}, "Requests made"),
        auditTable(audit.audit),
      ],
    };
  };

  pages.members = async (where) => {
    const after = where.query.get("after");
    const list = await api(`/members?limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ""}`);
    const last = list.members.length === PAGE ? list.members[PAGE - 1].member_id : null;
    return {
      title: "members",
      nodes: [
        el("h1", {}, "Members"),
        table(["Member", "Role", "Attributes", "Registered", "Blacklisted"], list.members.map((m) => [
          idLink("member", m.member_id), m.role, chips(m.attributes),
          el("a", { href: href("block", m.registered_height) }, String(m.registered_height)),
          m.blacklisted ? verdict(false, "", "yes") : "no",
        ])),
        el("div", { class: "pager" }, after ? el("a", { href: "#/members" }, "← first") : null,
          last ? el("a", { href: `#/members?after=${last}` }, "next →") : null),
      ],
    };
  };

  pages.peers = async () => {
    const [status, net] = await Promise.all([api("/status"), api("/net_info")]);
    return {
      title: "peers",
      nodes: [
        el("h1", {}, "Peers"),
        kv([
          ["This node", `node ${status.node_index}`],
          ["Peer id", el("code", {}, status.peer_id)],
          ["Listening on", chips(net.listen)],
          ["Genesis", hexText(status.genesis_hash)],
        ]),
        el("h2", {}, `Genesis peers (${status.peers_connected} of ${net.peers.length} connected)`),
        table(["Node", "Peer id", "Link"], net.peers.map((p) => [
          String(p.index), el("code", {}, p.peer_id), verdict(p.connected, "connected", "down"),
        ]), { num: [0] }),
      ],
    };
  };

  pages.verify = async () => {
    const result = el("div", { id: "verify-result" }, el("p", { class: "muted" }, "Not run yet."));
    const run = async () => {
      button.disabled = true;
      result.replaceChildren(el("p", { class: "muted" }, "Checking every block, QC and index…"));
      try {
        const r = await api("/verify");
        const bad = r.first_bad ? Object.entries(r.first_bad).map(([k, v]) => `${k}: ${v}`).join("; ") : "";
        result.replaceChildren(kv([
          ["Result", verdict(r.ok, "OK: the ledger is intact", "BROKEN")],
          ["Checked up to", `height ${r.height}`],
          r.ok ? null : ["First problem", el("code", { class: "block" }, bad)],
        ]));
      } catch (error) {
        result.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
      }
      button.disabled = false;
    };
    const button = el("button", { type: "button", id: "verify-run", on: { click: run } }, "Check the ledger");
    return {
      title: "ledger check",
      nodes: [el("h1", {}, "Ledger check"),
        el("p", { class: "muted" }, "Re-checks hashes, commit QCs, the state root and both sub-chains on a snapshot of this node's ledger."),
        button, result],
    };
  };

  // #/find/ID: what a 64-hex id names here, tried in turn.
  pages.find = async (where) => {
    const id = encodeURIComponent(where.args[0] || "");
    for (const [kind, path] of [["tx", "/tx/"], ["record", "/records/"], ["member", "/members/"], ["hash", "/blocks/by-hash/"]]) {
      if (await tryApi(path + id)) {
        location.replace(href(kind, where.args[0]));
        return { nodes: [] };
      }
    }
    return { title: "not found", nodes: [el("h1", {}, "Not found"), el("p", {}, "No block, transaction, record or member has the id ", el("code", {}, where.args[0] || ""), ".")] };
  };

  pages["?"] = async () => ({
    title: "not found",
    nodes: [el("h1", {}, "No such page"), el("p", {}, el("a", { href: "#/" }, "Back to the latest blocks"))],
  });
})();
