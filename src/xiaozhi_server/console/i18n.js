// Chinese and English. Chinese by default when the browser prefers it; the choice is remembered.

const STRINGS = {
  zh: {
    brand: "小智聊天记录", "nav.devices": "设备", "nav.search": "搜索", "nav.stats": "统计",
    "nav.sync": "同步状态", logout: "退出", "lang.switch": "English",
    "login.title": "登录", "login.username": "用户名", "login.password": "密码",
    "login.submit": "登录", "login.failed": "用户名或密码错误",
    "conn.live": "实时", "conn.reconnecting": "重新连接中…",
    "devices.title": "设备", "col.alias": "名称", "col.mac": "MAC", "col.agent": "智能体",
    "col.lastSeen": "最后活动", "col.state": "状态", "col.today": "今日消息",
    "state.online": "在线", "state.idle": "空闲", "state.offline": "离线",
    "device.sessions": "会话", "col.title": "标题", "col.time": "时间", "col.count": "消息数",
    "untitled": "（无标题）", "newMessages": "有新消息 ↓",
    "speaker.1": "用户", "speaker.2": "助手", "speaker.3": "工具",
    "tool.call": "调用", "tool.result": "结果", "play": "播放",
    "export": "导出", "search.placeholder": "搜索所有对话…", "search.submit": "搜索",
    "search.any": "全部类型", "search.none": "没有找到", "search.from": "从", "search.to": "到",
    "stats.title": "统计（近14天）", "stats.perDay": "每日消息", "stats.devices": "活跃设备",
    "stats.busiest": "最活跃设备", "stats.toolShare": "工具调用占比",
    "sync.title": "同步状态", "sync.source": "来源", "sync.mode": "方式", "sync.state": "状态", "sync.lag": "延迟",
    "sync.lastSuccess": "上次成功", "sync.error": "错误", "sync.none": "未配置同步",
    "degraded": "上游不可用：显示的是本地存储的数据", "loading": "加载中…", "back": "返回",
    "nav.users": "用户", "nav.audit": "审计日志", "unmask.toggle": "显示原文",
    "role.viewer": "查看者", "role.admin": "管理员",
    "users.title": "用户", "users.name": "用户名", "users.role": "角色", "users.changed": "最后修改", "users.actions": "操作",
    "users.add": "添加", "users.added": "已添加", "users.setPassword": "设置密码", "users.newPassword": "新密码",
    "users.save": "保存", "users.passwordChanged": "密码已修改", "users.remove": "删除", "users.removed": "已删除",
    "users.confirmRemove": "删除用户 {name}？其登录会话将立即结束。",
    "audit.title": "审计日志", "audit.action": "操作", "audit.actor": "操作者", "audit.address": "地址",
    "audit.target": "对象", "audit.detail": "详情", "audit.any": "全部操作", "audit.more": "更多", "audit.none": "没有记录",
    "action.sign_in": "登录", "action.sign_in_failed": "登录失败", "action.export": "导出", "action.unmask": "查看原文",
    "action.erase": "删除记录", "action.retention": "定期清理", "action.user_add": "添加用户",
    "action.user_password": "修改密码", "action.user_role": "修改角色", "action.user_remove": "删除用户",
    "erase.button": "删除记录", "erase.confirm": "删除", "erase.cancel": "取消", "erase.close": "完成",
    "erase.question": "删除{target}的 {amounts}？", "erase.done": "已删除{target}的 {amounts}。",
    "erase.irreversible": "删除后无法恢复，同步也不会再把它们带回来。", "erase.failed": "删除失败",
    "erase.kind.session": "会话", "erase.kind.device": "设备", "erase.kind.agent": "智能体",
    // marks and shares
    "nav.marks": "书签", "nav.shares": "分享链接", "marks.title": "星标、标签和备注",
    "marks.star": "加星标", "marks.starred": "已加星标", "marks.tags": "标签", "marks.tagsHint": "用逗号分隔",
    "marks.note": "备注", "marks.save": "保存", "marks.saved": "已保存", "marks.failed": "未保存",
    "marks.editMessage": "备注和标签", "marks.filterStar": "星标", "marks.anyStar": "全部会话",
    "marks.onlyStarred": "已加星标", "marks.notStarred": "未加星标", "marks.tag": "标签", "marks.filter": "筛选",
    "marks.none": "没有符合条件的会话", "action.mark": "标记", "action.share": "创建分享", "action.share_revoke": "撤销分享",
    "share.create": "创建分享链接", "share.days": "有效期", "share.daysN": "{n} 天", "share.url": "分享链接",
    "share.copy": "复制", "share.copied": "已复制", "share.once": "链接只显示这一次，请现在复制。",
    "shares.title": "分享链接", "shares.explain": "持有链接的人无需登录即可只读查看该会话（含录音），直到过期或被撤销。",
    "shares.session": "会话", "shares.by": "创建者", "shares.created": "创建时间", "shares.expires": "到期时间",
    "shares.state": "状态", "shares.active": "有效", "shares.expired": "已过期", "shares.revoke": "撤销", "shares.none": "没有分享链接",
    // whole turns
    "turns.responseSeconds": "{s} 秒后回复", "turns.responseMinutes": "{m} 分 {s} 秒后回复",
    "turns.responseTitle": "响应时间：从用户说话到回复的第一句",
    "stats.responseTimes": "响应时间（P50 / P95）", "stats.day": "日期", "stats.agent": "智能体",
    "stats.replies": "回复数", "stats.p50": "P50", "stats.p95": "P95", "stats.noReplies": "这段时间没有回复",
    "stats.unknownAgent": "（未知智能体）", "stats.seconds": "{s} 秒",
    // live wall, devices at scale, comfort (h2-wall)
    "nav.live": "实时墙", "live.title": "实时对话墙", "live.anyAgent": "全部智能体",
    "live.device": "设备 MAC", "live.type": "类型", "live.apply": "筛选", "live.clear": "清除筛选",
    "live.pause": "暂停", "live.resume": "继续（{n} 条新消息）", "live.paused": "已暂停：{n} 条新消息等待中",
    "live.waiting": "等待新的对话…", "live.onlyDevice": "只看此设备", "live.open": "打开会话",
    "devices.search": "按名称、MAC 或智能体搜索…", "devices.range": "第 {from}–{to} 个，共 {total} 个",
    "devices.prev": "上一页", "devices.next": "下一页", "devices.none": "没有设备", "devices.pages": "分页",
    "device.more": "更多会话", "jump.now": "跳到最新 ↓",
  },
  en: {
    brand: "Xiaozhi chat history", "nav.devices": "Devices", "nav.search": "Search", "nav.stats": "Statistics",
    "nav.sync": "Sync health", logout: "Sign out", "lang.switch": "中文",
    "login.title": "Sign in", "login.username": "Name", "login.password": "Password",
    "login.submit": "Sign in", "login.failed": "Wrong name or password",
    "conn.live": "Live", "conn.reconnecting": "Reconnecting…",
    "devices.title": "Devices", "col.alias": "Name", "col.mac": "MAC", "col.agent": "Agent",
    "col.lastSeen": "Last seen", "col.state": "State", "col.today": "Today",
    "state.online": "online", "state.idle": "idle", "state.offline": "offline",
    "device.sessions": "Sessions", "col.title": "Title", "col.time": "Time", "col.count": "Messages",
    "untitled": "(untitled)", "newMessages": "New messages ↓",
    "speaker.1": "User", "speaker.2": "Agent", "speaker.3": "Tool",
    "tool.call": "call", "tool.result": "result", "play": "Play",
    "export": "Export", "search.placeholder": "Search every conversation…", "search.submit": "Search",
    "search.any": "Any type", "search.none": "Nothing found", "search.from": "From", "search.to": "To",
    "stats.title": "Statistics (last 14 days)", "stats.perDay": "Messages per day", "stats.devices": "Active devices",
    "stats.busiest": "Busiest devices", "stats.toolShare": "Tool-call share",
    "sync.title": "Sync health", "sync.source": "Source", "sync.mode": "Mode", "sync.state": "State", "sync.lag": "Lag",
    "sync.lastSuccess": "Last success", "sync.error": "Error", "sync.none": "No sync configured",
    "degraded": "Upstream unavailable: showing what the hub has stored", "loading": "Loading…", "back": "Back",
    "nav.users": "Users", "nav.audit": "Audit trail", "unmask.toggle": "Show unmasked",
    "role.viewer": "viewer", "role.admin": "admin",
    "users.title": "Users", "users.name": "Name", "users.role": "Role", "users.changed": "Last changed", "users.actions": "Actions",
    "users.add": "Add", "users.added": "Added", "users.setPassword": "Set password", "users.newPassword": "New password",
    "users.save": "Save", "users.passwordChanged": "password changed", "users.remove": "Remove", "users.removed": "Removed",
    "users.confirmRemove": "Remove the user {name}? Their sessions end at once.",
    "audit.title": "Audit trail", "audit.action": "Action", "audit.actor": "Who", "audit.address": "From",
    "audit.target": "What", "audit.detail": "Detail", "audit.any": "Any action", "audit.more": "More", "audit.none": "No entries",
    "action.sign_in": "sign-in", "action.sign_in_failed": "failed sign-in", "action.export": "export", "action.unmask": "unmasked read",
    "action.erase": "erasure", "action.retention": "retention", "action.user_add": "user added",
    "action.user_password": "password changed", "action.user_role": "role changed", "action.user_remove": "user removed",
    "erase.button": "Erase history", "erase.confirm": "Erase", "erase.cancel": "Cancel", "erase.close": "Done",
    "erase.question": "Erase {amounts} of {target}?", "erase.done": "Erased {amounts} of {target}.",
    "erase.irreversible": "This cannot be undone, and no sync will bring it back.", "erase.failed": "Not erased",
    "erase.kind.session": "session", "erase.kind.device": "device", "erase.kind.agent": "agent",
    // marks and shares
    "nav.marks": "Bookmarks", "nav.shares": "Share links", "marks.title": "Star, tags and note",
    "marks.star": "Star", "marks.starred": "Starred", "marks.tags": "Tags", "marks.tagsHint": "comma-separated",
    "marks.note": "Note", "marks.save": "Save", "marks.saved": "Saved", "marks.failed": "Not saved",
    "marks.editMessage": "Note and tags", "marks.filterStar": "Star", "marks.anyStar": "All sessions",
    "marks.onlyStarred": "Starred", "marks.notStarred": "Not starred", "marks.tag": "Tag", "marks.filter": "Filter",
    "marks.none": "No sessions match", "action.mark": "marked", "action.share": "share created", "action.share_revoke": "share revoked",
    "share.create": "Create share link", "share.days": "Valid for", "share.daysN": "{n} days", "share.url": "Share link",
    "share.copy": "Copy", "share.copied": "Copied", "share.once": "The link is shown only this once: copy it now.",
    "shares.title": "Share links", "shares.explain": "Whoever holds a link sees that session read-only (audio included) without signing in, until it expires or is revoked.",
    "shares.session": "Session", "shares.by": "Created by", "shares.created": "Created", "shares.expires": "Expires",
    "shares.state": "State", "shares.active": "active", "shares.expired": "expired", "shares.revoke": "Revoke", "shares.none": "No share links",
    // whole turns
    "turns.responseSeconds": "replied in {s} s", "turns.responseMinutes": "replied in {m} min {s} s",
    "turns.responseTitle": "Response time: from the user's turn to the reply's first sentence",
    "stats.responseTimes": "Response time (p50 / p95)", "stats.day": "Day", "stats.agent": "Agent",
    "stats.replies": "Replies", "stats.p50": "p50", "stats.p95": "p95", "stats.noReplies": "No replies in this period",
    "stats.unknownAgent": "(unknown agent)", "stats.seconds": "{s} s",
    // live wall, devices at scale, comfort (h2-wall)
    "nav.live": "Live wall", "live.title": "Live wall", "live.anyAgent": "Any agent",
    "live.device": "Device MAC", "live.type": "Type", "live.apply": "Filter", "live.clear": "Clear filters",
    "live.pause": "Pause", "live.resume": "Resume ({n} new)", "live.paused": "Paused: {n} new turns waiting",
    "live.waiting": "Waiting for conversations…", "live.onlyDevice": "Only this device", "live.open": "Open the session",
    "devices.search": "Search name, MAC or agent…", "devices.range": "{from}–{to} of {total}",
    "devices.prev": "Previous", "devices.next": "Next", "devices.none": "No devices", "devices.pages": "Pages",
    "device.more": "More sessions", "jump.now": "Jump to now ↓",
  },
};

const KEY = "xiaozhi.lang";
let current = localStorage.getItem(KEY)
  || ((navigator.languages || [navigator.language]).some((l) => l && l.toLowerCase().startsWith("zh")) ? "zh" : "en");

export function lang() {
  return current;
}

export function setLang(value) {
  current = value;
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value;
}

export function t(key) {
  return STRINGS[current][key] ?? key;
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(current === "zh" ? "zh-CN" : "en-GB");
}

export function translateStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.documentElement.lang = current;
}
