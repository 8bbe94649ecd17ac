from django.urls import path
from shop import views

urlpatterns = [
    path("", views.index),
    path("api/items", views.items),
    path("api/order", views.order),
    path("api/dashboard", views.dashboard),
    path("api/stock", views.stock),
    path("api/products", views.products),
    path("api/in-stock", views.in_stock),
]
