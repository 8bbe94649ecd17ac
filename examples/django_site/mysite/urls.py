from django.urls import path
from shop import views

urlpatterns = [
    path("", views.index),
    path("api/items", views.items),
    path("api/stock", views.stock),
]
