"""Products (create, edit, archive), the storefront link, and ad-hoc payment links."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from orders.models import Order, Product
from orders.services import ItemSpec, OrderError, order_create, product_archive, product_create, product_update
from sellers.forms import PaymentLinkForm, ProductForm
from sellers.views.mixins import WRITE_ROLES, actor, seller_object, seller_required

RECENT_LINKS = 10


def _page(request, *, product_form=None, link_form=None, status=200):
    seller = request.seller
    products = Product.objects.filter(seller=seller).order_by("-is_active", "name")
    links = (Order.objects.filter(seller=seller, metadata__payment_link=True)
             .only("id", "reference", "status", "currency", "amount", "created_at", "checkout_token")
             .order_by("-created_at")[:RECENT_LINKS])
    return render(request, "dashboard/products.html", {
        "products": products, "links": links,
        "product_form": product_form or ProductForm(seller=seller),
        "link_form": link_form or PaymentLinkForm(seller=seller),
        "storefront_url": request.build_absolute_uri(f"/s/{seller.slug}/"),
        "checkout_base": request.build_absolute_uri("/checkout/"),
    }, status=status)


@seller_required
def product_list(request):
    return _page(request)


def _save(request, form: ProductForm, product: Product | None):
    data = form.cleaned_data
    fields = {"name": data["name"], "description": data.get("description") or "",
              "unit_amount": data["unit_amount"], "currency": data["currency"]}
    try:
        if product is None:
            product = product_create(seller=request.seller, **fields)
        else:
            product = product_update(product=product, **fields)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    return product


@require_POST
@seller_required(write=True)
def product_new(request):
    form = ProductForm(request.POST, seller=request.seller)
    if form.is_valid() and _save(request, form, None):
        messages.success(request, f"Product “{form.cleaned_data['name']}” created.")
        return redirect("dashboard:products")
    return _page(request, product_form=form, status=400)


@seller_required
def product_edit(request, pk):
    product = seller_object(request, Product.objects, pk=pk)
    form = ProductForm(request.POST or None, instance=product, seller=request.seller)
    if request.method == "POST":
        if request.seller_role not in WRITE_ROLES:
            raise PermissionDenied("Viewers cannot change products.")
        if form.is_valid() and _save(request, form, product):
            messages.success(request, f"Product “{product.name}” saved.")
            return redirect("dashboard:products")
    return render(request, "dashboard/product_form.html", {"form": form, "product": product},
                  status=400 if form.errors else 200)


@require_POST
@seller_required(write=True)
def product_archive_view(request, pk):
    product = seller_object(request, Product.objects, pk=pk)
    archived = request.POST.get("restore") != "1"
    product_archive(product=product, archived=archived)
    messages.success(request, f"“{product.name}” {'archived' if archived else 'is back on the storefront'}.")
    return redirect("dashboard:products")


@require_POST
@seller_required(write=True)
def payment_link_new(request):
    form = PaymentLinkForm(request.POST, seller=request.seller)
    if not form.is_valid():
        return _page(request, link_form=form, status=400)
    data = form.cleaned_data
    try:
        order = order_create(seller=request.seller, currency=data["currency"],
                             items=[ItemSpec(name=data["description"], unit_amount=data["amount_minor"])],
                             actor=actor(request), reference=data.get("reference") or "",
                             customer_email=data.get("customer_email") or "", metadata={"payment_link": True})
    except OrderError as exc:
        form.add_error(None, exc.user_message)
        return _page(request, link_form=form, status=400)
    messages.success(request, "Payment link created. Copy the checkout URL below and send it to your customer.")
    return redirect("dashboard:order_detail", pk=order.pk)
