// The editor code the wx node editors share. Node-RED serves it from the package's resources/ folder (the build
// copies it there); each node's HTML loads it with <script src="resources/@wxflow/node-red-wechat/wxflow-editor.js">
// before its own script, so it is there whatever order a palette install loads the nodes in. It may run more than
// once (every node's HTML names it): the first run wins.
// Everything that comes from the server is put in the page with .text() / .attr(), never as HTML.
(function () {
  "use strict";
  if (window.wxflowEditor) return;

  /**
   * The enum lists of the runtime (resources/wxflow-lists.js, generated at build time from nodes/editor-lists.ts).
   * Read when used: the two scripts of a node's HTML load side by side, in no set order.
   */
  function lists() {
    return window.wxflowLists || {};
  }

  /** A stored name is stable: UserNames (@...) change at every login and are refused. */
  function isStableName(v) {
    return !v || String(v).trim().charAt(0) !== "@";
  }

  /** A text of the wx-account catalog (node catalogs live in their node set's namespace, not the editor's). */
  function t(key) {
    return RED._("@wxflow/node-red-wechat/wx-account:wx-account." + key);
  }

  function accountRoute(id, path) {
    return "wx-account/" + encodeURIComponent(id) + "/" + path;
  }

  function errorMessage(xhr) {
    return xhr.responseJSON && xhr.responseJSON.error ? xhr.responseJSON.error.message : xhr.statusText;
  }

  /**
   * An autoComplete search over the live contacts of the account selected in `accountInput`: friends and groups
   * matching the typed text in their name, remark or alias. A pick inserts the contact's stable handle.
   */
  function contactSearch(accountInput) {
    return function (value, done) {
      var id = $(accountInput).val();
      if (!id || id === "_ADD_") return done([]);
      $.getJSON(accountRoute(id, "contacts"), { q: value || "" })
        .done(function (answer) {
          var found = answer && Array.isArray(answer.contacts) ? answer.contacts : [];
          done(found.map(function (c) {
            var label = $("<span/>", { class: "wx-picker-entry" });
            $("<i/>", { class: "fa " + (c.type === "group" ? "fa-users" : "fa-user") }).css({ "margin-right": "6px", opacity: 0.7 }).appendTo(label);
            $("<span/>").text(c.displayName || c.handle).appendTo(label);
            var extra = [c.type];
            if (c.handle && c.handle !== c.displayName) extra.push(c.handle);
            if (c.alias && c.alias !== c.handle) extra.push(c.alias);
            if (typeof c.memberCount === "number") extra.push(c.memberCount);
            $("<span/>").css({ opacity: 0.6, "margin-left": "8px" }).text(extra.join(" · ")).appendTo(label);
            return { value: c.handle, label: label };
          }).concat(answer && answer.loading ? [{
            // Right after login the address book still loads: say so rather than look incomplete.
            value: value || "",
            label: $("<i/>").css({ opacity: 0.7 }).text(t("picker.loading"))
          }] : []));
        })
        .fail(function () { done([]); });
    };
  }

  /** The picker on a plain text input (wx-receive chats, wx-contacts names). */
  function contactPicker($input, accountInput) {
    if (typeof $input.autoComplete !== "function") return;
    $input.autoComplete({ minLength: 0, search: contactSearch(accountInput) });
  }

  /** Target types of the typedInput: a name picked from the contacts, or a msg / flow / global / env property. */
  function targetTypes(accountInput) {
    return lists().targetTypes.map(function (type) {
      if (type !== "str") return type;
      return { value: "str", label: "a..z", icon: "red/images/typedInput/az.svg", autoComplete: contactSearch(accountInput) };
    });
  }

  /** The typedInput on #node-input-target (its type in #node-input-targetType); a flow without a type is "str". */
  function targetInput(accountInput) {
    var $type = $("#node-input-targetType");
    if (!$type.val()) $type.val("str");
    $("#node-input-target").typedInput({ default: "str", typeField: $type, types: targetTypes(accountInput) });
  }

  /** defaults.target.validate: a stable name for "str", a property for the other types. */
  function validTarget(v) {
    var $type = $("#node-input-targetType");
    var type = ($type.length ? $type.val() : this.targetType) || "str";
    if (type === "str") return isStableName(v);
    if (type === "msg") return RED.utils.validatePropertyExpression(String(v || ""));
    return String(v || "").trim() !== "";
  }

  function targetLabel(node) {
    if (!node.target) return "";
    var type = node.targetType || "str";
    return type === "str" ? node.target : type + "." + node.target;
  }

  /**
   * The checkboxes of a list setting (wx-receive types, wx-event events) in #node-input-<field>-list: one per value
   * of the runtime's list, labelled from the node's catalog (<type>.<field>.<value>), ticked from the node's setting.
   */
  function checkList(node, field, options) {
    var values = lists()[node.type][field];
    var selected = Array.isArray(node[field]) ? node[field] : values;
    var css = options.inline
      ? { width: "auto", display: "inline-flex", "align-items": "center", gap: "4px", margin: "0 10px 4px 0" }
      : { width: "auto", display: "flex", "align-items": "center", gap: "6px", margin: "0 0 4px 0" };
    var $list = $("#node-input-" + field + "-list");
    values.forEach(function (value) {
      var $label = $("<label/>", { for: options.id + value }).css(css).appendTo($list);
      $("<input/>", { type: "checkbox", id: options.id + value, class: options.cls }).val(value)
        .prop("checked", selected.indexOf(value) !== -1).css({ width: "auto", margin: 0 }).appendTo($label);
      $("<span/>").text(node._(node.type + "." + field + "." + value)).appendTo($label);
      if (options.code) $("<code/>").text(value).css({ opacity: 0.7 }).appendTo($label);
    });
    $(options.all).on("click", function (e) { e.preventDefault(); $("." + options.cls).prop("checked", true); });
    $(options.none).on("click", function (e) { e.preventDefault(); $("." + options.cls).prop("checked", false); });
  }

  function checked(cls) {
    return $("." + cls + ":checked").map(function () { return $(this).val(); }).get();
  }

  // ---- the send nodes: one definition and one template for wx-send-text, wx-send-image and wx-send-file ----

  function row(t, field, icon, input, cls) {
    return '<div class="form-row' + (cls ? " " + cls : "") + '"><label for="node-input-' + field + '"><i class="fa ' + icon + '"></i> ' +
      '<span data-i18n="' + t + ".label." + field + '"></span></label>' + input + "</div>";
  }

  function textInput(t, field, placeholder) {
    return '<input type="text" id="node-input-' + field + '"' + (placeholder ? ' data-i18n="[placeholder]' + t + ".placeholder." + field + '"' : "") + ' style="width: 70%">';
  }

  function tip(t, key, cls) {
    return '<div class="form-tips' + (cls ? " " + cls : "") + '" data-i18n="[html]' + t + ".tip." + key + '"></div>';
  }

  var ROWS = {
    account: function (t) { return row(t, "account", "fa-weixin", '<input type="text" id="node-input-account">'); },
    target: function (t) {
      return row(t, "target", "fa-user", textInput(t, "target", true) + '<input type="hidden" id="node-input-targetType">') + tip(t, "target");
    },
    as: function (t) {
      var options = ["auto"].concat(lists()["wx-send-file"].as).map(function (as) {
        return '<option value="' + as + '" data-i18n="' + t + ".as." + as + '"></option>';
      }).join("");
      return row(t, "as", "fa-file-o", '<select id="node-input-as" style="width: 70%">' + options + "</select>");
    },
    source: function (t) {
      return row(t, "readFolders", "fa-folder-open-o", textInput(t, "readFolders", true)) + tip(t, "readFolders") +
        '<div class="form-row"><label for="node-input-allowUrl" style="width: auto"><input type="checkbox" id="node-input-allowUrl" style="width: auto; margin: 0 6px 0 0"> ' +
        '<span data-i18n="' + t + '.label.allowUrl"></span></label></div>' +
        row(t, "allowHosts", "fa-server", textInput(t, "allowHosts", true), "wx-row-hosts") + tip(t, "allowHosts", "wx-row-hosts");
    },
    name: function (t) {
      return row(t, "name", "fa-tag", '<input type="text" id="node-input-name" data-i18n="[placeholder]' + t + '.label.name">');
    }
  };

  function template(type) {
    return $("script[data-template-name='" + type + "']")[0];
  }

  /** Adds the edit template of `type` (Node-RED reads it from script[data-template-name] when a dialog opens). */
  function addTemplate(type, rows) {
    var script = template(type) || document.body.appendChild(document.createElement("script"));
    script.type = "text/html";
    script.setAttribute("data-template-name", type);
    script.textContent = rows.map(function (name) { return ROWS[name](type); }).join("\n");
  }

  /**
   * A select row of field `field` (id <prefix><field>): labelled <type>.label.<field>, one option per value,
   * labelled <type>.<field>.<value>. With no values the node's script fills it.
   */
  function selectRow(type, prefix, cls, field, icon, values) {
    var options = values.map(function (value) {
      return '<option value="' + value + '" data-i18n="' + type + "." + field + "." + value + '"></option>';
    }).join("");
    return '<div class="form-row' + (cls ? " " + cls : "") + '"><label for="' + prefix + field + '"><i class="fa ' + icon + '"></i> ' +
      '<span data-i18n="' + type + ".label." + field + '"></span></label><select id="' + prefix + field + '" style="width: 70%">' + options + "</select></div>";
  }

  /**
   * Fills the shared rows into a node's own template: each <div data-wx-rows="account"></div> (or "name", or
   * several names) becomes those rows, with the node's own texts; each
   * <div [class="c"] data-wx-select="field fa-icon value value ..."></div> becomes a select row (selectRow).
   * `prefix` is the inputs' id prefix: "node-input-" (the default), or "node-config-input-" for a config node.
   */
  function fillTemplate(type, prefix) {
    var script = template(type);
    if (!script) return;
    script.textContent = script.textContent.replace(/<div data-wx-rows="([a-z ]+)"><\/div>/g, function (whole, names) {
      return names.split(" ").map(function (name) { return ROWS[name](type); }).join("\n");
    }).replace(/<div(?: class="([a-z-]+)")? data-wx-select="([a-zA-Z]+) (fa-[a-z-]+)((?: [a-z]+)*)"><\/div>/g, function (whole, cls, field, icon, values) {
      return selectRow(type, prefix || "node-input-", cls, field, icon, values.split(" ").filter(Boolean));
    });
  }

  /**
   * Registers a wx node: the common parts (category, colour, name and account, labels from its catalog) with
   * `definition` over them; its template's data-wx-rows placeholders are filled first.
   */
  function registerNode(type, definition) {
    fillTemplate(type);
    var common = {
      category: "wechat",
      color: "#8fd17b",
      icon: type + ".svg",
      paletteLabel: function () { return this._(type + ".paletteLabel"); },
      labelStyle: function () { return this.name ? "node_label_italic" : ""; },
      outputLabels: function () { return this._(type + ".outputLabel"); }
    };
    if (definition.inputs) common.inputLabels = function () { return this._(type + ".inputLabel"); };
    var merged = $.extend(common, definition);
    merged.defaults = $.extend({ name: { value: "" }, account: { value: "", type: "wx-account", required: true } }, definition.defaults);
    RED.nodes.registerType(type, merged);
  }

  var SOURCE_DEFAULTS = {
    // Absolute folders, ";" between them (it replaces the allowPath checkbox, which let a message read any file).
    readFolders: { value: "", validate: function (v) { return String(v || "").split(";").every(function (f) { f = f.trim(); return !f || /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(f); }); } },
    allowUrl: { value: false },
    allowHosts: { value: "" }
  };

  /**
   * Registers a send node: account, target (typedInput with the contact picker), then the rows of `options.rows`
   * ("as", "source") and the name. Its texts come from the node's own catalog (type.label.*, type.tip.* ...).
   */
  function sendNode(type, options) {
    var extra = options.rows || [];
    var defaults = {
      target: { value: "", validate: validTarget },
      targetType: { value: "str" }
    };
    if (extra.indexOf("as") !== -1) defaults.as = { value: "auto" };
    if (extra.indexOf("source") !== -1) $.extend(defaults, SOURCE_DEFAULTS);
    addTemplate(type, ["account", "target"].concat(extra, ["name"]));
    registerNode(type, {
      defaults: defaults,
      inputs: 1,
      outputs: 1,
      align: "right",
      label: function () {
        if (this.name) return this.name;
        return this.target ? this._(type + ".label.to", { target: targetLabel(this) }) : this._(type + ".paletteLabel");
      },
      oneditprepare: function () {
        targetInput("#node-input-account");
        $("#node-input-allowUrl").on("change", function () {
          $(".wx-row-hosts").toggle($(this).prop("checked"));
        }).trigger("change");
      }
    });
  }

  // ---- the account's user: avatar through the guarded admin route (an <img src> would carry no admin token) ----

  /** Puts the logged-in user's avatar of account `id` into `$img` (hidden until it arrives; none: stays hidden). */
  function loadAvatar(id, $img) {
    $img.hide();
    $.getJSON(accountRoute(id, "avatar")).done(function (answer) {
      var url = answer && answer.avatar;
      if (typeof url === "string" && /^data:image\/(png|jpe?g|gif|webp|bmp);base64,[A-Za-z0-9+/=]+$/.test(url)) $img.attr("src", url).show();
    });
  }

  // ---- the sidebar tab: every account's state at once ----

  var STATE_TOPIC = "wx-account/+/state";

  function accountsSidebar() {
    if (!RED.sidebar || accountsSidebar.added) return;
    accountsSidebar.added = true;
    var summaries = {};
    var $content = $("<div/>", { class: "wx-accounts-sidebar" }).css({ padding: "8px", overflow: "auto", height: "100%", "box-sizing": "border-box" });
    var canWrite = function () { return !RED.user || typeof RED.user.hasPermission !== "function" || RED.user.hasPermission("wx-account.write"); };

    function accounts() {
      var found = [];
      RED.nodes.eachConfig(function (n) { if (n.type === "wx-account") found.push(n); });
      return found;
    }

    function renderOne(node) {
      var summary = summaries[node.id];
      var $row = $("<div/>", { class: "wx-accounts-row" }).attr("data-id", node.id)
        .css({ padding: "6px 0", "border-bottom": "1px solid var(--red-ui-secondary-border-color, #ddd)" });
      var $head = $("<div/>").css({ display: "flex", "align-items": "center", gap: "6px" }).appendTo($row);
      $("<a/>", { href: "#", class: "wx-accounts-name" }).text(node.name || RED.utils.getNodeLabel(node, node.id)).css({ "font-weight": "bold" })
        .on("click", function (e) { e.preventDefault(); RED.editor.editConfig("", "wx-account", node.id); })
        .appendTo($head);
      var status = summary && summary.status;
      var state = summary ? summary.state : "undeployed";
      var $state = $("<div/>", { class: "wx-accounts-state" }).attr("data-state", state).css({ display: "flex", "align-items": "center", gap: "6px", margin: "4px 0" }).appendTo($row);
      if (status && status.fill) $("<span/>", { class: "red-ui-flow-node-status-" + status.shape + "-" + status.fill }).css({ display: "inline-block", width: "9px", height: "9px", "border-radius": "50%" }).addClass("wx-accounts-dot").appendTo($state);
      $("<span/>", { class: "wx-accounts-status" }).text(status && status.text ? status.text : summary ? state : t("sidebar.undeployed")).appendTo($state);
      var owner = summary && summary.ownership;
      if (owner && typeof owner.self === "string") {
        // Redis (#17): the instance that runs the account (instance names are no secret: the node status shows them)
        var who = owner.role === "owner" ? owner.self + " " + t("sidebar.ownerSelf") : typeof owner.owner === "string" ? owner.owner : "?";
        $("<div/>", { class: "wx-accounts-owner" }).attr("data-role", String(owner.role)).text(t("sidebar.owner") + " " + who).css({ opacity: 0.8 }).appendTo($row);
      }
      if (summary && summary.contacts === "loading") $("<div/>", { class: "wx-accounts-contacts" }).text(t("sidebar.contactsLoading")).css({ opacity: 0.7 }).appendTo($row);
      if (!summary || !canWrite()) return $row;
      // Who is logged in, the problem and the buttons need wx-account.write (read-only users see the state only).
      var $detail = $("<div/>", { class: "wx-accounts-detail" }).appendTo($row);
      $.getJSON(accountRoute(node.id, "state")).done(function (view) {
        if (view && typeof view.message === "string" && view.message) {
          $("<div/>", { class: "wx-accounts-problem" }).text(view.message).css({ color: "var(--red-ui-text-color-error, #c00)" }).appendTo($detail);
        }
        if (view && view.state === "online" && view.user) {
          var $user = $("<div/>", { class: "wx-accounts-user" }).css({ display: "flex", "align-items": "center", gap: "6px", margin: "4px 0" }).appendTo($detail);
          var $img = $("<img/>", { alt: "", class: "wx-accounts-avatar" }).css({ width: "24px", height: "24px", "border-radius": "3px" }).appendTo($user);
          loadAvatar(node.id, $img);
          $("<span/>", { class: "wx-accounts-nickname" }).text(view.user.nickName || "").appendTo($user);
          $("<button type='button' class='red-ui-button red-ui-button-small wx-accounts-logout'/>")
            .append($("<i/>", { class: "fa fa-sign-out" })).append(document.createTextNode(" " + t("session.logout")))
            .on("click", function (e) {
              e.preventDefault();
              $.ajax({ url: accountRoute(node.id, "logout"), type: "POST" }).fail(function (xhr) {
                RED.notify($("<p/>").text(t("session.actionFailed") + ": " + String(errorMessage(xhr))), "error");
              });
            })
            .appendTo($user);
        }
      });
      return $row;
    }

    function render() {
      $content.empty();
      var found = accounts();
      if (found.length === 0) $("<div/>", { class: "wx-accounts-none" }).text(t("sidebar.none")).css({ opacity: 0.7 }).appendTo($content);
      found.forEach(function (node) { renderOne(node).appendTo($content); });
    }

    var pending = null;
    function renderSoon() {
      if (pending) return;
      pending = setTimeout(function () { pending = null; render(); }, 100);
    }

    RED.sidebar.addTab({
      id: "wxflow-accounts",
      label: t("sidebar.label"),
      name: t("sidebar.name"),
      iconClass: "fa fa-weixin",
      content: $content,
      enableOnEdit: true,
      onchange: render
    });
    // The comms topic reaches every editor user and carries no secret: the state and the node status.
    RED.comms.subscribe(STATE_TOPIC, function (topic, data) {
      var id = topic.split("/")[1];
      if (data && typeof data === "object") summaries[id] = data;
      renderSoon();
    });
    ["flows:loaded", "nodes:add", "nodes:remove", "nodes:change", "deploy"].forEach(function (event) {
      RED.events.on(event, function (node) { if (!node || !node.type || node.type === "wx-account") renderSoon(); });
    });
  }

  window.wxflowEditor = {
    lists: lists,
    isStableName: isStableName,
    contactPicker: contactPicker,
    targetInput: targetInput,
    validTarget: validTarget,
    targetLabel: targetLabel,
    checkList: checkList,
    checked: checked,
    sendNode: sendNode,
    registerNode: registerNode,
    fillTemplate: fillTemplate,
    loadAvatar: loadAvatar,
    accountsSidebar: accountsSidebar
  };
})();
