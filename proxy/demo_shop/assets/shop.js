// Add to cart without a page load, the way storefront themes call /cart/add.js.
// The form's own action keeps ?id=<handle>, so intentgate sees the product either way;
// without JavaScript (or fetch) the form simply posts to /cart/add.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-ajax-cart") || !window.fetch || !window.URLSearchParams) return;
  event.preventDefault();
  var status = form.querySelector(".cart-status");
  var url = form.getAttribute("action").replace("/cart/add", "/cart/add.js");
  fetch(url, {
    method: "POST",
    body: new URLSearchParams(new FormData(form)),
    credentials: "same-origin",
    headers: {"Accept": "application/json"}
  })
    .then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    })
    .then(function (result) {
      if (!result.ok) throw new Error(result.data.error || "could not add to cart");
      var link = document.querySelector("header .cart");
      if (link) link.textContent = "Cart (" + result.data.item_count + ")";
      if (status) status.textContent = "Added. " + result.data.item_count + " in your cart.";
    })
    .catch(function (error) {
      if (status) status.textContent = error.message;
    });
});

// When this page's request carried no X-Intent-* headers, ask the proxy why: a HEAD of the same
// URL (no rule counts a HEAD as a shopper event) answers with X-Intent-Skipped when the proxy
// exposes its headers (make run does).
(function () {
  var slot = document.getElementById("intent-skipped");
  if (!slot || !window.fetch) return;
  fetch(location.href, {method: "HEAD", credentials: "same-origin"})
    .then(function (response) {
      var reason = response.headers.get("X-Intent-Skipped");
      if (reason) {
        slot.textContent = "Why: " + reason + ".";
      } else if (!response.headers.get("X-Intent-Model")) {
        slot.textContent = "Not behind intentgate, or intentgate does not expose its headers " +
          "(serve --expose-headers).";
      }
    })
    .catch(function () {});
})();
