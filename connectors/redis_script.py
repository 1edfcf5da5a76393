"""The read-model Lua script of connectors/redis_store.py (docs/redis.md): one
call applies one output record, atomically and idempotently.  Kept apart from
the Python side so each stays readable."""

# The read-model script: one call applies one record (``op``, built in Python
# by ``_op``).  ARGV: the JSON array [prefix, ttl_s, stream_maxlen, alert_open_s,
# dedupe_window_s], the op JSON.  Keys are derived from the prefix inside the script,
# so this needs a standalone Redis (or one shard), not Redis Cluster.

APPLY_LUA = r"""
local cfg = cjson.decode(ARGV[1])
local P = cfg[1]
local TTL = tonumber(cfg[2])
local MAXLEN = cfg[3]
local OPEN_S = tonumber(cfg[4])
local DEDUPE_S = tonumber(cfg[5])
local op = cjson.decode(ARGV[2])

local ORDER_ST = {'pending', 'unassigned', 'proposed', 'assigned', 'stranded',
                  'delivered', 'failed', 'cancelled', 'expired', 'not_served'}
local VEHICLE_ST = {'idle', 'en_route', 'stale', 'unavailable'}
local TERMINAL = {delivered = true, failed = true, cancelled = true, expired = true,
                  not_served = true}
local FROM_OPEN = {[''] = true, pending = true, unassigned = true}
local FROM_LIVE = {[''] = true, pending = true, unassigned = true, proposed = true,
                   assigned = true}
local touched = {}   -- index key -> {zone, summary field}
local TS

-- ids become key parts escaped (KEY_ESCAPES, docs/redis.md): '%', ':', '{', '}'
-- as %XX, so an id can never name another entity's key ("Z1:orders:pending").
local function esc(s)
  return (string.gsub(s, '[%%:{}]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
local function zk(zone) return P .. 'z:' .. esc(zone) end
local function ex(k) redis.call('EXPIRE', k, TTL) end
local function seq_of(id) return tonumber(string.match(id, '-(%d+)$') or '0') or 0 end

-- true when version (ts, seq) is strictly older than the stored (cts, cseq)
local function older(ts, seq, cts, cseq)
  if not cts then return false end
  cts = tonumber(cts)
  cseq = tonumber(cseq or '0') or 0
  return ts < cts or (ts == cts and seq < cseq)
end

-- move a member between the zone's per-status sorted sets (score: event time)
local function index(zone, what, old, new, member, ts)
  local base = zk(zone) .. ':' .. what .. ':'
  if old and old ~= new then
    redis.call('ZREM', base .. old, member)
    touched[base .. old] = {zone, what .. '_' .. old}
  end
  if new then
    redis.call('ZADD', base .. new, 'GT', ts, member)
    touched[base .. new] = {zone, what .. '_' .. new}
  end
end

local function close_alert(zone, id)
  local z = zk(zone)
  redis.call('ZREM', z .. ':alerts', id)
  touched[z .. ':alerts'] = {zone, 'alerts_open'}
  redis.call('HDEL', z .. ':alert', id)
  local subj = redis.call('HGET', z .. ':alert_subj', '#' .. id)
  if subj then
    redis.call('HDEL', z .. ':alert_subj', '#' .. id)
    if redis.call('HGET', z .. ':alert_subj', subj) == id then
      redis.call('HDEL', z .. ':alert_subj', subj)
    end
  end
end

-- close the open alert about subj if it was raised at or before ts
local function close_subject(zone, subj, ts)
  local z = zk(zone)
  local id = redis.call('HGET', z .. ':alert_subj', subj)
  if id then
    local at = redis.call('ZSCORE', z .. ':alerts', id)
    if not at or tonumber(at) <= ts then close_alert(zone, id) end
  end
end

local function order_status(zone, oid, st, ts, seq, by, from, vid, extra)
  local k = P .. 'o:' .. esc(oid)
  local cur = redis.call('HMGET', k, 'status', 'status_ts', 'status_seq')
  local cs = cur[1]
  if older(ts, seq, cur[2], cur[3]) then return false end
  if cs and TERMINAL[cs] and not TERMINAL[st] then return false end
  if from and not from[cs or ''] then return false end
  redis.call('HSET', k, 'order_id', oid, 'zone', zone, 'status', st, 'status_ts', TS,
             'status_seq', seq, 'status_by', by)
  if vid then redis.call('HSET', k, 'vehicle_id', vid) end
  if extra and #extra > 0 then redis.call('HSET', k, unpack(extra)) end
  ex(k)
  index(zone, 'orders', cs, st, oid, ts)
  if st == 'assigned' or st == 'proposed' or TERMINAL[st] then
    close_subject(zone, 'unassigned|' .. oid, ts)
  end
  if TERMINAL[st] then close_subject(zone, 'failure_risk|' .. oid, ts) end
  return true
end

local function vehicle_refresh(zone, vid, ts)
  local k = P .. 'v:' .. esc(vid)
  local h = redis.call('HMGET', k, 'unavailable', 'stale', 'stops', 'status', 'zone', 'seen_ts')
  zone = zone or h[5]
  if not zone then return end
  -- index score: the latest event time the vehicle was seen at (independent of the
  -- order in which positions and records arrive)
  if h[6] and tonumber(h[6]) > ts then ts = tonumber(h[6]) else redis.call('HSET', k, 'seen_ts', TS) end
  local st = 'idle'
  if h[1] == '1' then st = 'unavailable'
  elseif h[2] == '1' then st = 'stale'
  elseif tonumber(h[3] or '0') > 0 then st = 'en_route' end
  local old = h[4]
  if h[5] and h[5] ~= zone then
    index(h[5], 'vehicles', old, nil, vid, ts)
    old = false
  end
  redis.call('HSET', k, 'vehicle_id', vid, 'status', st, 'zone', zone)
  ex(k)
  index(zone, 'vehicles', old, st, vid, ts)
end

local function set_route(zone, vid, route, n, ts, seq, by)
  local k = P .. 'v:' .. esc(vid)
  local cur = redis.call('HMGET', k, 'route_ts', 'route_seq')
  if older(ts, seq, cur[1], cur[2]) then return end
  redis.call('HSET', k, 'route', route, 'stops', n, 'route_ts', TS, 'route_seq', seq,
             'route_by', by)
  vehicle_refresh(zone, vid, ts)
end

-- drop the stops of some orders from a vehicle's route (one stop per line)
local function route_remove(zone, vid, oids, ts, seq, by)
  local k = P .. 'v:' .. esc(vid)
  local cur = redis.call('HMGET', k, 'route_ts', 'route_seq', 'route')
  if not cur[3] or older(ts, seq, cur[1], cur[2]) then return end
  local drop = {}
  for _, o in ipairs(oids) do drop[o] = true end
  local kept = {}
  for line in string.gmatch(string.sub(cur[3], 2, -2), '[^\n]+') do
    local stop = (string.gsub(line, ',$', ''))
    if stop ~= '' and not drop[cjson.decode(stop).order_id] then kept[#kept + 1] = stop end
  end
  redis.call('HSET', k, 'route', '[' .. table.concat(kept, ',\n') .. ']', 'stops', #kept,
             'route_ts', TS, 'route_seq', seq, 'route_by', by)
  vehicle_refresh(zone, vid, ts)
end

-- the decision stream entry / outcome counters happen once per record id
local function first_time(zone, id, ts)
  local key = zk(zone) .. ':seen'
  if redis.call('ZSCORE', key, id) then return false end
  redis.call('ZADD', key, ts, id)
  ex(key)
  return true
end

local function finish(zone, ts)
  local z = zk(zone)
  local cs = redis.call('HGET', z, 'ts') or '-1e18'
  local c = tonumber(cs)
  if ts > c then
    c, cs = ts, TS
    redis.call('HSET', z, 'ts', TS)
  end
  local old = redis.call('ZRANGEBYSCORE', z .. ':alerts', '-inf', '(' .. (c - OPEN_S))
  for _, id in ipairs(old) do close_alert(zone, id) end
  local trim = tonumber(redis.call('HGET', z, 'trim_ts') or '-1e18')
  local minute = math.floor(c / 60) * 60
  -- Retention of the zone indexes, once per event-time minute.  The marker is the
  -- minute, not the batch's time, so the read model is the same however the
  -- records were batched (a backlog flush after an outage, or live batches).
  if minute > trim then
    redis.call('HSET', z, 'trim_ts', string.format('%d', minute))
    for _, st in ipairs(ORDER_ST) do
      local key = z .. ':orders:' .. st
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (c - TTL))
      touched[key] = {zone, 'orders_' .. st}
    end
    for _, st in ipairs(VEHICLE_ST) do
      local key = z .. ':vehicles:' .. st
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (c - TTL))
      touched[key] = {zone, 'vehicles_' .. st}
    end
    redis.call('ZREMRANGEBYSCORE', z .. ':seen', '-inf', '(' .. (c - DEDUPE_S))
    touched[z .. ':alerts'] = {zone, 'alerts_open'}
  end
  for key, zf in pairs(touched) do
    local n = redis.call('ZCARD', key)
    redis.call('HSET', zk(zf[1]), zf[2], n)
    if n > 0 then ex(key) end
    ex(zk(zf[1]))
  end
  redis.call('HSET', z, 'zone', zone, 'updated_ts', cs)
  ex(z)
end

local t = op.t
local ts = op.ts
TS = op.ts_s   -- stored as Python wrote it (Lua would print 17 digits)
local seq = op.seq or 0
local zone = op.zone

if t == 'P' then   -- a GPS fix
  local k = P .. 'v:' .. esc(op.vid)
  local cur = redis.call('HMGET', k, 'pos_ts', 'zone', 'stale', 'stale_ts')
  if cur[1] and ts < tonumber(cur[1]) then return 'old' end
  redis.call('HSET', k, 'vehicle_id', op.vid, 'lat', op.lat, 'lon', op.lon, 'pos_ts', TS)
  ex(k)
  zone = zone or cur[2]
  if not zone then return 'ok' end
  if cur[3] == '1' and ts > tonumber(cur[4]) then
    redis.call('HSET', k, 'stale', '0')
    close_subject(zone, 'stale_vehicle|' .. op.vid, ts)
  end
  vehicle_refresh(zone, op.vid, ts)
  finish(zone, ts)
  return 'ok'
end

local result = 'ok'

if t == 'D' then   -- fs.decisions
  local z = zk(zone)
  if not first_time(zone, op.id, ts) then return 'dup' end
  redis.call('XADD', P .. 'decisions', 'MAXLEN', '~', MAXLEN, '*', 'decision_id', op.id,
             'zone', zone, 'kind', op.kind, 'status', op.status, 'ts', op.ts_s,
             'record', op.rec)
  ex(P .. 'decisions')
  if op.status == 'applied' then
    local routed = {}
    for _, r in ipairs(op.routes) do
      local vid = r[1]
      if op.kind == 'assign' then
        local vk = P .. 'v:' .. esc(vid)
        local u = redis.call('HMGET', vk, 'unavailable', 'unavailable_ts')
        if u[1] == '1' and ts > tonumber(u[2]) then
          redis.call('HSET', vk, 'unavailable', '0', 'available_ts', TS)
        end
      end
      set_route(zone, vid, r[2], #r[3], ts, seq, op.id)
      for _, s in ipairs(r[3]) do
        routed[s[1]] = true
        local extra = {}
        if s[2] == 'delivery' then extra = {'planned_eta', s[3]} end
        order_status(zone, s[1], 'assigned', ts, seq, op.id, FROM_LIVE, vid, extra)
      end
    end
    if op.kind == 'unassign' then
      for _, oid in ipairs(op.order_ids) do
        if not routed[oid] then order_status(zone, oid, 'cancelled', ts, seq, op.id, nil) end
      end
    end
    if op.refers_to then redis.call('HDEL', z .. ':proposals', op.refers_to) end
  elseif op.status == 'proposed' then
    redis.call('HSET', z .. ':proposals', op.id, op.rec)
    ex(z .. ':proposals')
    for _, oid in ipairs(op.order_ids) do
      order_status(zone, oid, 'proposed', ts, seq, op.id, FROM_OPEN)
    end
  elseif op.status == 'rejected' or op.status == 'expired' then
    redis.call('HDEL', z .. ':proposals', op.refers_to or op.id)
    for _, oid in ipairs(op.order_ids) do
      order_status(zone, oid, 'pending', ts, seq, op.id, {proposed = true})
    end
  else   -- alert_only: the orders stay where they are
    for _, oid in ipairs(op.order_ids) do
      order_status(zone, oid, 'pending', ts, seq, op.id, {[''] = true})
    end
  end
  redis.call('HSET', z, 'proposals_open', redis.call('HLEN', z .. ':proposals'))

elseif t == 'E' then   -- fs.eta
  local k = P .. 'o:' .. esc(op.oid)
  local cur = redis.call('HMGET', k, 'eta_ts', 'eta_seq', 'status', 'status_ts', 'status_seq')
  if older(ts, seq, cur[1], cur[2]) then return 'old' end
  redis.call('HSET', k, 'order_id', op.oid, 'zone', zone, 'eta_ts', TS, 'eta_seq', seq,
             'eta_id', op.id, 'eta_vehicle_id', op.vid, unpack(op.f))
  ex(k)
  local st = cur[3]
  if not older(ts, seq, cur[4], cur[5]) and not TERMINAL[st or ''] then
    -- an ETA means the order is on a vehicle's route (even after a proposal: the
    -- driver may have picked it up anyway, reality wins in the engine too)
    if not st or FROM_OPEN[st] or st == 'proposed' then st = 'assigned' end
    order_status(zone, op.oid, st, ts, seq, op.id, nil, op.vid)
  end

elseif t == 'N' then   -- fs.notifications
  local k = P .. 'o:' .. esc(op.oid)
  local cur = redis.call('HMGET', k, 'notified_ts', 'notified_seq')
  if older(ts, seq, cur[1], cur[2]) then return 'old' end
  redis.call('HSET', k, 'order_id', op.oid, 'zone', zone, 'customer_id', op.cid,
             'notified_ts', TS, 'notified_seq', seq, 'notification_id', op.id,
             'notification_kind', op.kind)
  ex(k)

elseif t == 'O' then   -- fs.outcomes
  if not first_time(zone, op.id, ts) then return 'dup' end
  local extra = {'outcome_ts', TS}
  if op.reason then extra = {'outcome_ts', TS, 'outcome_reason', op.reason} end
  if op.cid then
    extra[#extra + 1] = 'customer_id'
    extra[#extra + 1] = op.cid
  end
  order_status(zone, op.oid, op.outcome, ts, seq, op.id, nil, op.vid, extra)
  if op.vid then route_remove(zone, op.vid, {op.oid}, ts, seq, op.id) end
  if op.cid and op.outcome ~= 'cancelled' and op.outcome ~= 'expired'
      and op.outcome ~= 'not_served' then  -- not the customer's doing
    local ck = P .. 'c:' .. esc(op.cid)
    if op.outcome == 'delivered' then
      redis.call('HINCRBY', ck, 'deliveries', 1)
    else
      redis.call('HINCRBY', ck, 'failures', 1)
      redis.call('HINCRBY', ck, (op.reason or 'other') .. '_failures', 1)
    end
    redis.call('HSET', ck, 'customer_id', op.cid, 'last_outcome', op.outcome,
               'last_outcome_ts', op.ts_s)
  end

elseif t == 'A' then   -- fs.alerts
  local z = zk(zone)
  local kind = op.kind
  -- effects on vehicles and orders
  if kind == 'stale_vehicle' and op.vid then
    local k = P .. 'v:' .. esc(op.vid)
    local cur = redis.call('HMGET', k, 'pos_ts', 'stale_ts')
    if not (cur[1] and tonumber(cur[1]) > ts) and not older(ts, seq, cur[2], '0') then
      redis.call('HSET', k, 'stale', '1', 'stale_ts', TS)
      vehicle_refresh(zone, op.vid, ts)
    end
  elseif kind == 'vehicle_unavailable' and op.vid then
    local k = P .. 'v:' .. esc(op.vid)
    local cur = redis.call('HMGET', k, 'available_ts', 'unavailable_ts')
    if not older(ts, seq, cur[1], '0') and not older(ts, seq, cur[2], '0') then
      redis.call('HSET', k, 'unavailable', '1', 'unavailable_ts', TS)
      vehicle_refresh(zone, op.vid, ts)
    end
    for _, oid in ipairs(op.order_ids) do
      order_status(zone, oid, 'pending', ts, seq, op.id, {assigned = true})
    end
  elseif kind == 'stranded_orders' then
    for _, oid in ipairs(op.order_ids) do
      order_status(zone, oid, 'stranded', ts, seq, op.id, FROM_LIVE, op.vid)
    end
  elseif kind == 'unassigned' then
    if op.vid then   -- left the depot without planned parcels: back in the pool
      for _, oid in ipairs(op.order_ids) do
        order_status(zone, oid, 'pending', ts, seq, op.id, {[''] = true, assigned = true})
      end
      route_remove(zone, op.vid, op.order_ids, ts, seq, op.id)
    else
      for _, oid in ipairs(op.order_ids) do
        order_status(zone, oid, 'unassigned', ts, seq, op.id, FROM_OPEN)
      end
    end
  end
  -- open alerts: one per subject; a newer alert on the same subject replaces it
  local closed = false
  if kind == 'stale_vehicle' and op.vid then
    local p = redis.call('HGET', P .. 'v:' .. esc(op.vid), 'pos_ts')
    closed = p and tonumber(p) > ts
  elseif op.oid then
    local s = redis.call('HMGET', P .. 'o:' .. esc(op.oid), 'status', 'status_ts', 'status_seq')
    if s[1] and s[2] and (tonumber(s[2]) > ts or (tonumber(s[2]) == ts and
                                                  tonumber(s[3]) > seq)) then
      closed = TERMINAL[s[1]] or (kind == 'unassigned' and
                                  (s[1] == 'assigned' or s[1] == 'proposed'))
    end
  end
  local prev = redis.call('HGET', z .. ':alert_subj', op.subj)
  if prev and prev ~= op.id then
    local at = redis.call('ZSCORE', z .. ':alerts', prev)
    if at and older(ts, seq, at, seq_of(prev)) then closed = true
    else close_alert(zone, prev) end
  end
  local clock = tonumber(redis.call('HGET', z, 'ts') or '-1e18')
  if not closed and ts >= clock - OPEN_S then
    redis.call('ZADD', z .. ':alerts', ts, op.id)
    redis.call('HSET', z .. ':alert', op.id, op.rec)
    redis.call('HSET', z .. ':alert_subj', op.subj, op.id, '#' .. op.id, op.subj)
    ex(z .. ':alerts')
    ex(z .. ':alert')
    ex(z .. ':alert_subj')
    touched[z .. ':alerts'] = {zone, 'alerts_open'}
  end
end

finish(zone, ts)
return result
"""
