// Add to cart without a page load, the way storefront themes call /cart/add.js.
document.addEventListener("submit", function (e) {
  var form = e.target;
  if (!form.hasAttribute("data-ajax-cart") || !window.fetch) return;
  e.preventDefault();
  fetch("/cart/add.js", {method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (cart) {
      var link = document.querySelector("header .cart");
      if (link) link.textContent = "Cart (" + cart.item_count + ")";
    });
});
